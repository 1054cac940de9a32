/**
 * The demo's Web Worker: runs createPatch / applyPatch off the page's thread,
 * so the progress bar keeps moving. One request at a time (the page waits
 * for a reply before it sends the next). Cancel: the page terminates this
 * worker, so nothing here needs to be interruptible.
 *
 * Progress: a tick every TICK_MS reports the library's last progress and the
 * bytes read so far from the old image, so the bar moves from the first
 * second (the library's first report comes only once a whole old layer is
 * indexed: 128 MB on the nginx pair).
 *
 * Memory: the library's own budget (one diff window, see CreateOptions),
 * plus the whole patch (small), the old image's read-ahead blocks (12 MiB,
 * read-ahead.ts) and, on apply, a STAGE_BYTES buffer and the rebuilt
 * archive, which is folded into Blobs every FOLD_BYTES so the browser may
 * move it out of the JS heap.
 */
import { applyPatch } from '../src/delta/apply.js';
import { createPatch } from '../src/delta/create.js';
import type { Progress } from '../src/delta/types.js';
import { loadSha256 } from '../src/core/index.js';
import { setCoreUrl } from '../src/core/load.browser.js';
import { setDiffWorkerUrl } from '../src/delta/runner.browser.js';
import { PatcherError } from '../src/errors.js';
import { openImageArchive } from '../src/image/archive.js';
import type { HasherFactory } from '../src/image/hash.js';
import { blobSource, type ByteSource } from '../src/image/source.js';
import { browserHasher } from '../src/image/sha256.js';
import { readAheadSource } from './read-ahead.js';
import { streamHashers } from './stream-hasher.js';
import type { Engine, InputProgress, Reply, Request, Step } from './protocol.js';

/** Bytes of output chunks kept as arrays before they are folded into one Blob. */
const FOLD_BYTES = 32 * 1024 * 1024;
/** Chunks this large become Blobs at once (smaller ones are gathered as arrays until the next fold). */
const BLOB_PART_BYTES = 1024 * 1024;
/** Bytes of the rebuilt archive gathered before they go to the output Blob and the hash worker. */
const STAGE_BYTES = 4 * 1024 * 1024;
/** How often progress goes to the page, in milliseconds. */
const TICK_MS = 150;

interface WorkerScope {
  location: { href: string };
  postMessage(message: Reply): void;
  onmessage: ((event: MessageEvent<Request>) => void) | null;
}
const scope = globalThis as unknown as WorkerScope;

// diffcore.wasm, diff-worker.js and hash-worker.js sit next to worker.js in web/dist.
setCoreUrl(new URL('diffcore.wasm', scope.location.href));
setDiffWorkerUrl(new URL('diff-worker.js', scope.location.href));

/** Diff workers for create: one per core, at most 4 (each holds a core of ~10x the window). */
const DIFF_WORKERS = Math.max(1, Math.min((globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? 1, 4));

/** sha256 from the WASM core; the plain-TypeScript one only if the core cannot load (the run then fails on the diff anyway). */
let hasher: HasherFactory = browserHasher;
const engine: Engine = { workers: DIFF_WORKERS, sha256: 'js', hashWorker: false };
const sha256Ready = loadSha256().then(
  (factory) => {
    hasher = factory;
    engine.sha256 = 'core';
  },
  () => {},
);
/** The rebuilt archive is hashed on a worker of its own, beside applyPatch (here where that cannot start). */
const outputHashers = sha256Ready.then(() =>
  streamHashers(new URL('hash-worker.js', scope.location.href), () => hasher).then((make) => {
    engine.hashWorker = make.onWorker;
    return make;
  }),
);

/** Collects output chunks into a Blob, `FOLD_BYTES` at a time. */
class BlobCollector {
  #blob = new Blob([]);
  #parts: Array<Uint8Array<ArrayBuffer> | Blob> = [];
  #partsBytes = 0;

  add(chunk: Uint8Array): void {
    // Copy: a sink must not keep a view the library may reuse. A large
    // chunk (apply's staged 4 MiB) goes straight into a Blob of its own:
    // no ArrayBuffer to allocate, and folding Blobs copies nothing.
    this.#parts.push(chunk.byteLength >= BLOB_PART_BYTES ? new Blob([chunk as Uint8Array<ArrayBuffer>]) : chunk.slice());
    this.#partsBytes += chunk.byteLength;
    if (this.#partsBytes >= FOLD_BYTES) this.#fold();
  }

  finish(type = 'application/octet-stream'): Blob {
    this.#fold();
    return new Blob([this.#blob], { type });
  }

  #fold(): void {
    this.#blob = new Blob([this.#blob, ...this.#parts]);
    this.#parts = [];
    this.#partsBytes = 0;
  }
}

/** The old image: read in blocks ahead of the library's reads (read-ahead.ts), counting the bytes it asks for. */
function countingSource(blob: Blob, counter: InputProgress): ByteSource {
  return readAheadSource(blob, { onRead: (length) => (counter.done = Math.min(counter.total, counter.done + length)) });
}

/** Progress for one request: the old image read through `old`, the library's reports, a ticker. */
class Watch {
  readonly input: InputProgress;
  readonly old: ByteSource;
  #last: Progress | undefined;
  #timer: ReturnType<typeof setInterval>;

  constructor(readonly step: Step, oldFile: File) {
    this.input = { done: 0, total: oldFile.size };
    this.old = countingSource(oldFile, this.input);
    this.#timer = setInterval(() => this.#post(), TICK_MS);
    this.#post();
  }
  readonly onProgress = (progress: Progress): void => {
    this.#last = progress;
  };
  stop(): void {
    clearInterval(this.#timer);
  }
  #post(): void {
    scope.postMessage({ type: 'progress', step: this.step, progress: this.#last, input: { ...this.input } });
  }
}

/**
 * Open one archive on its own (headers and config only, no layer data), so a
 * bad file is named in the message: createPatch's errors do not say which
 * input they came from.
 */
async function checkImage(source: ByteSource, file: File, what: string): Promise<void> {
  try {
    await openImageArchive(source, { hasher });
  } catch (err) {
    if (err instanceof PatcherError) throw new PatcherError(err.code, `${what} ${file.name}: ${err.message}`, { cause: err });
    throw err;
  }
}

async function create(oldFile: File, newFile: File, watch: Watch): Promise<Reply> {
  await checkImage(watch.old, oldFile, 'old image');
  await checkImage(blobSource(newFile), newFile, 'new image');
  const started = performance.now();
  const patch = new BlobCollector();
  const summary = await createPatch(watch.old, blobSource(newFile), (chunk) => patch.add(chunk), {
    hasher,
    workers: DIFF_WORKERS,
    onProgress: watch.onProgress,
  });
  return { type: 'created', summary, patch: patch.finish(), createMs: performance.now() - started, engine };
}

/**
 * applyPatch into a Blob, hashing the archive on the way. The library's
 * chunks (~850 of ~170 KiB on the nginx pair) are gathered into one
 * STAGE_BYTES buffer first: the Blob and the hash worker then each take a
 * copy of 4 MiB at a time, instead of a fresh small ArrayBuffer per chunk
 * each (those allocations cost ~1 s of a 6 s apply).
 */
async function applyToBlob(watch: Watch, patch: Blob, expectNewId?: string) {
  const output = new BlobCollector();
  const outputHasher = (await outputHashers)();
  const stage = new Uint8Array(STAGE_BYTES);
  let held = 0;
  // Both take their copies before they return, so the stage is free again at once.
  const flush = (): Promise<void> => {
    const bytes = stage.subarray(0, held);
    held = 0;
    output.add(bytes);
    return outputHasher.update(bytes);
  };
  const sink = async (chunk: Uint8Array): Promise<void> => {
    for (let at = 0; at < chunk.length; ) {
      const n = Math.min(chunk.length - at, stage.length - held);
      stage.set(chunk.subarray(at, at + n), held);
      held += n;
      at += n;
      if (held === stage.length) await flush();
    }
  };
  const result = await applyPatch(watch.old, blobSource(patch).stream(), sink, { hasher, onProgress: watch.onProgress, expectNewId });
  if (held > 0) await flush();
  return { result, output: output.finish('application/x-tar'), outputDigest: await outputHasher.digest() };
}

async function applyBack(newFile: File, patch: Blob, watch: Watch): Promise<Reply> {
  const started = performance.now();
  const { result, output, outputDigest } = await applyToBlob(watch, patch);
  const applyMs = performance.now() - started;

  // The reference: sha256 of the new tarball exactly as picked in the page.
  const hashStarted = performance.now();
  const newHasher = hasher();
  for await (const chunk of blobSource(newFile).stream(0, undefined, 1024 * 1024)) newHasher.update(chunk);
  return {
    type: 'applied',
    newImageId: result.newImageId,
    tags: result.tags,
    output,
    outputDigest,
    newFileDigest: newHasher.digest(),
    applyMs,
    hashMs: performance.now() - hashStarted,
    engine,
  };
}

/** The device side: no new archive to compare with; apply's own checks tie the result to the new image ID. */
async function applyFiles(oldFile: File, patchFile: File, expectNewId: string | undefined, watch: Watch): Promise<Reply> {
  await checkImage(watch.old, oldFile, 'old image');
  const started = performance.now();
  const { result, output, outputDigest } = await applyToBlob(watch, patchFile, expectNewId || undefined);
  // applyPatch itself tied the output to the image: config to the new image ID, every layer to its diff_id.
  return { type: 'applied-files', newImageId: result.newImageId, tags: result.tags, output, outputDigest, layersVerified: result.layersVerified, applyMs: performance.now() - started };
}

function run(request: Request, watch: Watch): Promise<Reply> {
  switch (request.type) {
    case 'create':
      return create(request.oldFile, request.newFile, watch);
    case 'apply':
      return applyBack(request.newFile, request.patch, watch);
    case 'apply-files':
      return applyFiles(request.oldFile, request.patchFile, request.expectNewId, watch);
  }
}

scope.onmessage = (event) => {
  const request = event.data;
  const step: Step = request.type === 'create' ? 'create' : 'apply';
  const watch = new Watch(step, request.oldFile);
  sha256Ready.then(() => run(request, watch)).then(
    (reply) => {
      watch.stop();
      scope.postMessage(reply);
    },
    (err: unknown) => {
      watch.stop();
      const message = err instanceof Error ? err.message.split('\n')[0] : String(err);
      const code = (err as { code?: unknown } | null)?.code;
      // PatcherErrors carry a user-facing one-line message; anything else is a bug.
      if (typeof code === 'string') scope.postMessage({ type: 'error', step, message, code });
      else scope.postMessage({ type: 'error', step, message: `internal error: ${message}` });
      if (typeof code !== 'string') console.error(err);
    },
  );
};
