/**
 * The demo's Web Worker: runs createPatch / applyPatch off the page's thread,
 * so the progress bar keeps moving. One request at a time (the page waits
 * for a reply before it sends the next).
 *
 * Memory: the library's own budget (one diff window, see CreateOptions),
 * plus the whole patch (small) and, on apply, the rebuilt archive, which is
 * folded into Blobs every FOLD_BYTES so the browser may move it out of the
 * JS heap.
 */
import { applyPatch } from '../src/delta/apply.js';
import { createPatch } from '../src/delta/create.js';
import type { Progress } from '../src/delta/types.js';
import { setCoreUrl } from '../src/core/load.browser.js';
import { PatcherError } from '../src/errors.js';
import { openImageArchive } from '../src/image/archive.js';
import { blobSource } from '../src/image/source.js';
import { browserHasher } from '../src/image/sha256.js';
import type { Reply, Request } from './protocol.js';

/** Bytes of output chunks kept as arrays before they are folded into one Blob. */
const FOLD_BYTES = 32 * 1024 * 1024;

interface WorkerScope {
  location: { href: string };
  postMessage(message: Reply): void;
  onmessage: ((event: MessageEvent<Request>) => void) | null;
}
const scope = globalThis as unknown as WorkerScope;

// diffcore.wasm sits next to worker.js in web/dist.
setCoreUrl(new URL('diffcore.wasm', scope.location.href));

/** Collects output chunks into a Blob, `FOLD_BYTES` at a time. */
class BlobCollector {
  #blob = new Blob([]);
  #parts: Uint8Array<ArrayBuffer>[] = [];
  #partsBytes = 0;

  add(chunk: Uint8Array): void {
    // Copy: a sink must not keep a view the library may reuse.
    this.#parts.push(chunk.slice());
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

function progressReporter(step: 'create' | 'apply'): (progress: Progress) => void {
  return (progress) => scope.postMessage({ type: 'progress', step, progress });
}

/**
 * Open one archive on its own (headers and config only, no layer data), so a
 * bad file is named in the message: createPatch's errors do not say which
 * input they came from.
 */
async function checkImage(file: File, what: string): Promise<void> {
  try {
    await openImageArchive(blobSource(file), { hasher: browserHasher });
  } catch (err) {
    if (err instanceof PatcherError) throw new PatcherError(err.code, `${what} ${file.name}: ${err.message}`, { cause: err });
    throw err;
  }
}

async function create(oldFile: File, newFile: File): Promise<Reply> {
  await checkImage(oldFile, 'old image');
  await checkImage(newFile, 'new image');
  const started = performance.now();
  const patch = new BlobCollector();
  const summary = await createPatch(blobSource(oldFile), blobSource(newFile), (chunk) => patch.add(chunk), {
    hasher: browserHasher,
    workers: 1,
    onProgress: progressReporter('create'),
  });
  return { type: 'created', summary, patch: patch.finish(), createMs: performance.now() - started };
}

async function apply(oldFile: File, newFile: File, patchBlob: Blob): Promise<Reply> {
  const started = performance.now();
  const output = new BlobCollector();
  const outputHasher = browserHasher();
  const result = await applyPatch(
    blobSource(oldFile),
    blobSource(patchBlob).stream(),
    (chunk) => {
      outputHasher.update(chunk);
      output.add(chunk);
    },
    { hasher: browserHasher, onProgress: progressReporter('apply') },
  );
  const applyMs = performance.now() - started;

  // The reference: sha256 of the new tarball exactly as picked in the page.
  const hashStarted = performance.now();
  const newHasher = browserHasher();
  for await (const chunk of blobSource(newFile).stream(0, undefined, 1024 * 1024)) newHasher.update(chunk);
  return {
    type: 'applied',
    newImageId: result.newImageId,
    tags: result.tags,
    output: output.finish('application/x-tar'),
    outputDigest: outputHasher.digest(),
    newFileDigest: newHasher.digest(),
    applyMs,
    hashMs: performance.now() - hashStarted,
  };
}

scope.onmessage = (event) => {
  const request = event.data;
  const step = request.type;
  const work = request.type === 'create' ? create(request.oldFile, request.newFile) : apply(request.oldFile, request.newFile, request.patch);
  work.then(
    (reply) => scope.postMessage(reply),
    (err: unknown) => {
      const message = err instanceof Error ? err.message.split('\n')[0] : String(err);
      const code = (err as { code?: unknown } | null)?.code;
      // PatcherErrors carry a user-facing one-line message; anything else is a bug.
      if (typeof code === 'string') scope.postMessage({ type: 'error', step, message, code });
      else scope.postMessage({ type: 'error', step, message: `internal error: ${message}` });
      if (typeof code !== 'string') console.error(err);
    },
  );
};
