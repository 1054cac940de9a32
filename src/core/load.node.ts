// Node: read the .wasm that `npm run build:wasm` put in build/ (shipped in the
// package; never fetched). Resolves the same from src/core and dist/core.
import { readFile } from 'node:fs/promises';
import { setFlagsFromString } from 'node:v8';
import { ErrorCode, PatcherError } from '../errors.js';

export async function compileCoreModule(): Promise<WebAssembly.Module> {
  const url = new URL('../../build/diffcore.wasm', import.meta.url);
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = new Uint8Array(await readFile(url));
  } catch {
    throw new PatcherError(ErrorCode.Core, `diff core missing: ${url.pathname} (run npm run build)`);
  }
  // V8 starts WASM in its baseline compiler and swaps in optimized code only
  // for the next call of a function; the suffix sort is one long call, so it
  // would run its whole course unoptimized (about 1.7x slower). Compile
  // optimized code up front instead.
  setFlagsFromString('--no-liftoff');
  return WebAssembly.compile(bytes);
}
