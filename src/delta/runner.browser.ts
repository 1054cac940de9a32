/**
 * Browser: diff windows on module Web Workers, one WASM core each, as
 * runner.node.ts does on worker threads. The page names the worker script
 * (setDiffWorkerUrl; web/diff-worker.ts is the demo's); without one, where
 * Workers do not exist, or when none of them starts, windows are diffed one
 * at a time on this thread (inlineRunner).
 *
 * Memory: each worker peaks at about 7x reference + 4x window (see
 * diff-budget.ts, which picks how many run), as on Node; createPatch keeps
 * at most `workers + 1` windows in flight, and each job's bytes are
 * transferred, not copied.
 *
 * Protocol with the worker script: it posts { ready: true } once its core
 * is loaded (or { failed: message }); then, per job posted, { payload,
 * memory } or { error: { code, message } }. A job's buffers are sent only
 * to a ready worker, so a worker that cannot start costs no job.
 */
import { loadCore, type DiffCore } from '../core/index.js';
import { ErrorCode, PatcherError } from '../errors.js';
import { runDiffJob, type DiffJob, type DiffRunner } from './diff-job.js';

let workerUrl: string | URL | undefined;

/** Where the page serves its diff worker script (an ES module); unset means no workers. */
export function setDiffWorkerUrl(url: string | URL | undefined): void {
  workerUrl = url;
}

export async function createRunner(workers: number): Promise<DiffRunner> {
  if (workers > 1 && workerUrl !== undefined && typeof Worker === 'function') {
    try {
      return new WorkerPool(workerUrl, workers);
    } catch {
      // Module workers unsupported (the constructor throws): one core here.
    }
  }
  return inlineRunner(await loadCore());
}

export function inlineRunner(core: DiffCore): DiffRunner {
  let peak = 0;
  return {
    async run(job: DiffJob) {
      const payload = runDiffJob(core, job);
      peak = Math.max(peak, core.memoryBytes());
      return payload;
    },
    peakMemory: () => peak,
    async close() {},
  };
}

interface Pending {
  resolve(payload: Uint8Array): void;
  reject(err: Error): void;
}

type Reply =
  | { ready: true }
  | { failed: string }
  | { payload: Uint8Array; memory: number }
  | { error: { code?: string; message: string } };

class WorkerPool implements DiffRunner {
  readonly #idle: Worker[] = [];
  /** Jobs waiting for a worker; called with null when no worker is left. */
  readonly #waiting: Array<(w: Worker | null) => void> = [];
  readonly #live = new Set<Worker>();
  readonly #pending = new Map<Worker, Pending>();
  #inline: Promise<DiffRunner> | undefined;
  #inlinePeak: () => number = () => 0;
  #peak = 0;

  constructor(url: string | URL, size: number) {
    for (let i = 0; i < size; i++) {
      const worker = new Worker(url, { type: 'module' });
      worker.onmessage = (event: MessageEvent<Reply>) => this.#message(worker, event.data);
      worker.onerror = (event) => {
        event.preventDefault();
        this.#fail(worker, event.message || 'could not run the diff worker script');
      };
      this.#live.add(worker);
    }
  }

  #message(worker: Worker, msg: Reply): void {
    if ('ready' in msg) return this.#release(worker);
    if ('failed' in msg) return this.#fail(worker, msg.failed);
    const p = this.#pending.get(worker);
    this.#pending.delete(worker);
    this.#release(worker);
    if (!p) return;
    if ('error' in msg) {
      const code = (Object.values(ErrorCode) as string[]).includes(msg.error.code ?? '') ? (msg.error.code as ErrorCode) : ErrorCode.Core;
      p.reject(new PatcherError(code, msg.error.message));
      return;
    }
    this.#peak = Math.max(this.#peak, msg.memory);
    p.resolve(msg.payload);
  }

  /** A worker that failed to start or died: its job (if any) fails; with none left, waiting jobs run here. */
  #fail(worker: Worker, message: string): void {
    if (!this.#live.delete(worker)) return;
    worker.terminate();
    const idle = this.#idle.indexOf(worker);
    if (idle >= 0) this.#idle.splice(idle, 1);
    const p = this.#pending.get(worker);
    this.#pending.delete(worker);
    p?.reject(new PatcherError(ErrorCode.Core, `diff worker failed: ${message}`));
    if (this.#live.size === 0) for (const next of this.#waiting.splice(0)) next(null);
  }

  #release(worker: Worker): void {
    if (!this.#live.has(worker)) return;
    const next = this.#waiting.shift();
    if (next) next(worker);
    else this.#idle.push(worker);
  }

  async run(job: DiffJob): Promise<Uint8Array> {
    const worker = this.#idle.pop() ?? (this.#live.size > 0 ? await new Promise<Worker | null>((resolve) => this.#waiting.push(resolve)) : null);
    if (!worker) {
      this.#inline ??= loadCore().then((core) => {
        const runner = inlineRunner(core);
        this.#inlinePeak = runner.peakMemory;
        return runner;
      });
      return (await this.#inline).run(job);
    }
    return new Promise((resolve, reject) => {
      this.#pending.set(worker, { resolve, reject });
      worker.postMessage(job, [job.reference.buffer as ArrayBuffer, job.target.buffer as ArrayBuffer]);
    });
  }

  peakMemory(): number {
    return Math.max(this.#peak, this.#inlinePeak());
  }

  async close(): Promise<void> {
    for (const worker of this.#live) worker.terminate();
    this.#live.clear();
  }
}
