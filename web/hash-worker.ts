/**
 * The demo's hash worker (a module worker): sha256 of one stream on a
 * thread of its own, with the core's sha256, so hashing the rebuilt
 * archive runs beside applyPatch instead of after each chunk of it.
 *
 * Messages in: 'begin' (a fresh hash), a Uint8Array (its next bytes), or
 * 'digest'. Out: { ready: true } once the core is loaded (or { failed }),
 * { done: n } after each chunk (n = its length, for the sender's flow
 * control), { digest } after 'digest'.
 */
import { loadSha256 } from '../src/core/index.js';
import { setCoreUrl } from '../src/core/load.browser.js';

interface WorkerScope {
  location: { href: string };
  postMessage(message: unknown): void;
  onmessage: ((event: MessageEvent<Uint8Array | 'begin' | 'digest'>) => void) | null;
}
const scope = globalThis as unknown as WorkerScope;

setCoreUrl(new URL('diffcore.wasm', scope.location.href));
const failed = (err: unknown) => scope.postMessage({ failed: err instanceof Error ? err.message : String(err) });

loadSha256().then((newHasher) => {
  let hasher = newHasher();
  scope.onmessage = (event) => {
    const message = event.data;
    try {
      if (message === 'begin') hasher = newHasher();
      else if (message === 'digest') scope.postMessage({ digest: hasher.digest() });
      else {
        hasher.update(message);
        scope.postMessage({ done: message.length });
      }
    } catch (err) {
      failed(err);
    }
  };
  scope.postMessage({ ready: true });
}, failed);
