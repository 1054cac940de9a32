/**
 * The built package (dist/) with its real diff worker threads: one worker
 * and three make the same patch, and three really ran on threads; an
 * AbortSignal cancels create and apply mid-way, leaves no thread alive and
 * no output. From TypeScript sources the runner cannot start its .js worker
 * and diffs inline, so these tests use dist/ (`npm run build:ts` first).
 *
 * Threads are counted through a hook on node:worker_threads' Worker
 * (syncBuiltinESMExports makes the ESM binding see it), which also counts
 * the replies each thread sends.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import type { Worker as NodeWorker } from 'node:worker_threads';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { applyPatch, createPatch, fileSink } from '../../dist/node.js';
import { SMALL, unpackPair } from '../fixtures/shared.js';
import { concat, expectSameBytes } from '../delta/util.js';

interface Thread { id: number; replies: number; exited: boolean }
const threads: Thread[] = [];
const workerThreads = createRequire(import.meta.url)('node:worker_threads') as { Worker: typeof NodeWorker };
const RealWorker = workerThreads.Worker;
workerThreads.Worker = class extends RealWorker {
  constructor(...args: ConstructorParameters<typeof NodeWorker>) {
    super(...args);
    const thread: Thread = { id: this.threadId, replies: 0, exited: false };
    threads.push(thread);
    this.on('message', () => thread.replies++);
    this.once('exit', () => (thread.exited = true));
  }
} as typeof NodeWorker;
syncBuiltinESMExports();
afterAll(() => {
  workerThreads.Worker = RealWorker;
  syncBuiltinESMExports();
});

const WINDOW = 64 * 1024;
let dir: string;
let oldPath: string;
let newPath: string;
beforeAll(() => {
  dir = unpackPair(SMALL.file);
  [oldPath, newPath] = [join(dir, SMALL.old.name), join(dir, SMALL.new.name)];
});
afterAll(() => dir && rmSync(dir, { recursive: true, force: true }));
beforeEach(() => void threads.splice(0));

async function patchWith(workers: number): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  // A budget that holds `workers` cores: the default (64 MiB) may run fewer at once.
  await createPatch(oldPath, newPath, (c) => void parts.push(c), { workers, windowSize: WINDOW, diffMemory: 1 << 30 });
  return concat(parts);
}

describe('diff workers', () => {
  it('one worker and three workers make the same patch, and three ran on threads', async () => {
    const one = await patchWith(1);
    expect(threads).toEqual([]); // one worker diffs on this thread
    const three = await patchWith(3);
    expectSameBytes(three, one);
    expect(threads).toHaveLength(3);
    expect(new Set(threads.map((t) => t.id)).size).toBe(3);
    expect(threads.filter((t) => t.replies > 0).length).toBeGreaterThanOrEqual(2);
    expect(threads.every((t) => t.exited)).toBe(true);
  }, 300_000);
});

describe('AbortSignal', () => {
  it('cancels create mid-diff: INTERRUPTED, every worker thread gone, no output file', async () => {
    const out = mkdtempSync(join(tmpdir(), 'dp-abort-create-'));
    const controller = new AbortController();
    let phase = '';
    const run = createPatch(oldPath, newPath, fileSink(join(out, 'p.patch')), {
      workers: 2,
      windowSize: WINDOW,
      signal: controller.signal,
      onProgress: (p) => {
        phase = p.phase;
        if (p.phase === 'diff') controller.abort(new Error('user pressed cancel'));
      },
    });
    await expect(run).rejects.toMatchObject({ name: 'PatcherError', code: 'INTERRUPTED', message: 'create interrupted' });
    expect(phase).toBe('diff');
    expect(threads.length).toBe(2);
    expect(threads.some((t) => t.replies > 0)).toBe(true);
    expect(threads.filter((t) => !t.exited)).toEqual([]);
    expect(readdirSync(out)).toEqual([]);
    rmSync(out, { recursive: true });
  }, 300_000);

  it('cancels apply mid-rebuild: INTERRUPTED, no output file', async () => {
    const patch = await patchWith(1);
    const out = mkdtempSync(join(tmpdir(), 'dp-abort-apply-'));
    const controller = new AbortController();
    let written = 0;
    const run = applyPatch(oldPath, patch, fileSink(join(out, 'new.tar')), {
      signal: controller.signal,
      onProgress: (p) => {
        if (p.phase !== 'rebuild') return;
        written = p.done;
        controller.abort();
      },
    });
    await expect(run).rejects.toMatchObject({ code: 'INTERRUPTED', message: 'apply interrupted' });
    expect(written).toBeGreaterThan(0);
    expect(written).toBeLessThan(SMALL.new.size);
    expect(readdirSync(out)).toEqual([]);
    rmSync(out, { recursive: true });
  }, 300_000);

  it('cancels an apply waiting on a stalled patch stream, and cancels the stream', async () => {
    const patch = await patchWith(1);
    let cancelled = false;
    const stalled = new ReadableStream<Uint8Array>({
      start: (c) => c.enqueue(patch.subarray(0, 100)),
      cancel: () => void (cancelled = true),
    });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    await expect(applyPatch(oldPath, stalled, () => {}, { signal: controller.signal })).rejects.toMatchObject({ code: 'INTERRUPTED' });
    expect(cancelled).toBe(true);
  }, 300_000);

  it('rejects at once when the signal is already aborted, before reading anything', async () => {
    const signal = AbortSignal.abort();
    await expect(createPatch('/no/such/old.tar', '/no/such/new.tar', () => {}, { signal })).rejects.toMatchObject({ code: 'INTERRUPTED' });
    await expect(applyPatch('/no/such/old.tar', '/no/such/p', () => {}, { signal })).rejects.toMatchObject({ code: 'INTERRUPTED' });
    expect(threads).toEqual([]);
  });
});
