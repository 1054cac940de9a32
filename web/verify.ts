/**
 * The device side's own check of a rebuilt archive, trusting only what the
 * archive is: its config must hash to the image ID the patch names, and
 * every layer must hash to the config's rootfs.diff_ids. applyPatch checks
 * each blob against digests the patch carries; this ties the result to the
 * image itself. Reads the archive once more (a pure-JS sha256 of every
 * layer byte).
 */
import type { Progress } from '../src/delta/types.js';
import { ErrorCode, PatcherError } from '../src/errors.js';
import { openImageArchive, openLayer } from '../src/image/archive.js';
import { blobSource } from '../src/image/source.js';
import { browserHasher } from '../src/image/sha256.js';

/** Check `archive` is image `imageId`, layer by layer; returns the number of layers checked. */
export async function verifyRebuilt(archive: Blob, imageId: string, onProgress: (progress: Progress) => void): Promise<number> {
  const source = blobSource(archive);
  const image = await openImageArchive(source, { hasher: browserHasher });
  if (image.imageId !== imageId) {
    throw new PatcherError(ErrorCode.DigestMismatch, `the rebuilt image's config hashes to ${image.imageId}, not ${imageId}`);
  }
  const total = image.layers.reduce((sum, layer) => sum + layer.storedSize, 0);
  let done = 0;
  for (let i = 0; i < image.layers.length; i++) {
    // openLayer throws DigestMismatch when the bytes do not hash to the diff_id.
    for await (const chunk of openLayer(source, image, i, { hasher: browserHasher, chunkSize: 1024 * 1024 })) {
      done += chunk.length;
      onProgress({ phase: 'verify', done: Math.min(done, total), total, detail: `layer ${i + 1}/${image.layers.length}` });
    }
  }
  return image.layers.length;
}
