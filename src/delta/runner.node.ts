/**
 * Node: diff windows on worker threads, one WASM core each, so both cores
 * of a small build machine work. Each worker's memory peaks at about
 * 7x reference + 4x window plus its own ~12 MiB (diff-budget.ts, which
 * also decides how many run). One window at a time runs on this thread,
 * as it does from TypeScript sources (tests), where a worker cannot load
 * the .ts entry.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { Worker } from 'node:worker_threads';
import { loadCore } from '../core/index.js';
import { ErrorCode, PatcherError } from '../errors.js';
import type { DiffJob, DiffRunner } from './diff-job.js';
import { inlineRunner } from './runner.browser.js';

/** A worker's young generation (V8 makes it 3 semi-spaces): 1 MiB ones, as the CLI's main thread has (bin/docker-patcher.js). */
const YOUNG_GENERATION_MB = 3;

interface Pending {
  resolve(payload: Uint8Array): void;
  reject(err: Error): void;
}

export async function createRunner(workers: number): Promise<DiffRunner> {
  const script = new URL('./diff-worker.js', import.meta.url);
  if (workers <= 1 || !existsSync(fileURLToPath(script))) return inlineRunner(await loadCore());
  return new WorkerPool(script, workers);
}

class WorkerPool implements DiffRunner {
  readonly #idle: Worker[] = [];
  readonly #waiting: Array<(w: Worker) => void> = [];
  readonly #all: Worker[] = [];
  readonly #pending = new Map<Worker, Pending>();
  #peak = 0;

  constructor(script: URL, size: number) {
    // Node 20 can deadlock at exit in a concurrent optimizing compile
    // (nodejs/node#54918). V8 reads this flag when an isolate starts, so
    // set here it holds for the workers created below (Worker execArgv
    // takes no V8 flags). It is process-wide: later isolates get it too.
    setFlagsFromString('--no-concurrent-recompilation');
    for (let i = 0; i < size; i++) {
      // A small nursery: a job's garbage is small objects around typed
      // arrays kept outside the heap (V8's default young generation held
      // several MB more per worker for nothing).
      const worker = new Worker(script, { resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB } });
      worker.on('message', (msg) => this.#settle(worker, msg));
      worker.on('error', (err) => this.#fail(worker, err));
      this.#all.push(worker);
      this.#idle.push(worker);
    }
  }

  #settle(worker: Worker, msg: { payload?: Uint8Array; memory?: number; error?: { code?: string; message: string } }): void {
    const p = this.#pending.get(worker);
    this.#pending.delete(worker);
    this.#release(worker);
    if (!p) return;
    if (msg.error) {
      const code = (Object.values(ErrorCode) as string[]).includes(msg.error.code ?? '') ? (msg.error.code as ErrorCode) : ErrorCode.Core;
      p.reject(new PatcherError(code, msg.error.message));
      return;
    }
    this.#peak = Math.max(this.#peak, msg.memory ?? 0);
    p.resolve(msg.payload!);
  }

  #fail(worker: Worker, err: Error): void {
    const p = this.#pending.get(worker);
    this.#pending.delete(worker);
    p?.reject(new PatcherError(ErrorCode.Core, `diff worker failed: ${err.message}`));
  }

  #release(worker: Worker): void {
    const next = this.#waiting.shift();
    if (next) next(worker);
    else this.#idle.push(worker);
  }

  async run(job: DiffJob): Promise<Uint8Array> {
    const worker = this.#idle.pop() ?? (await new Promise<Worker>((resolve) => this.#waiting.push(resolve)));
    return new Promise((resolve, reject) => {
      this.#pending.set(worker, { resolve, reject });
      worker.postMessage(job, [job.reference.buffer as ArrayBuffer, job.target.buffer as ArrayBuffer]);
    });
  }

  peakMemory(): number {
    return this.#peak;
  }

  async close(): Promise<void> {
    await Promise.all(this.#all.map((w) => w.terminate()));
  }
}
