/**
 * The demo's diff worker (a module worker started by the page's worker
 * through src/delta/runner.browser.ts): a core of its own, one diff job per
 * message. Says { ready: true } once its core is loaded, so no job is sent
 * to a worker that cannot run it.
 */
import { loadCore, type DiffCore } from '../src/core/index.js';
import { setCoreUrl } from '../src/core/load.browser.js';
import { runDiffJob, type DiffJob } from '../src/delta/diff-job.js';

interface WorkerScope {
  location: { href: string };
  postMessage(message: unknown, transfer?: Transferable[]): void;
  onmessage: ((event: MessageEvent<DiffJob>) => void) | null;
}
const scope = globalThis as unknown as WorkerScope;

// diffcore.wasm sits next to diff-worker.js in web/dist.
setCoreUrl(new URL('diffcore.wasm', scope.location.href));

let core: DiffCore | undefined;

scope.onmessage = (event) => {
  try {
    const payload = runDiffJob(core!, event.data);
    scope.postMessage({ payload, memory: core!.memoryBytes() }, [payload.buffer as ArrayBuffer]);
  } catch (err) {
    const e = err as { code?: string; message?: string };
    scope.postMessage({ error: { code: e.code, message: e.message ?? String(err) } });
  }
};

loadCore().then(
  (loaded) => {
    core = loaded;
    scope.postMessage({ ready: true });
  },
  (err: unknown) => scope.postMessage({ failed: err instanceof Error ? err.message : String(err) }),
);
