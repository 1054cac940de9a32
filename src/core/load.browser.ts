// Browser: fetch the .wasm next to the page (or wherever setCoreUrl points),
// compiled while it streams in. The bundle swaps this file for load.node.ts.
import { ErrorCode, PatcherError } from '../errors.js';

let coreUrl: string | URL | undefined;

/** Where the page serves diffcore.wasm; defaults to next to the script. */
export function setCoreUrl(url: string | URL): void {
  coreUrl = url;
}

export async function compileCoreModule(): Promise<WebAssembly.Module> {
  const url = coreUrl ?? new URL('diffcore.wasm', (globalThis as { location?: { href: string } }).location?.href);
  const response = await fetch(url);
  if (!response.ok) throw new PatcherError(ErrorCode.Core, `diff core missing: ${String(url)} (HTTP ${response.status})`);
  if (response.headers.get('content-type')?.startsWith('application/wasm')) {
    return WebAssembly.compileStreaming(response);
  }
  return WebAssembly.compile(await response.arrayBuffer());
}
