/**
 * `docker save` to a file: GET /images/{ref}/get streamed to disk.
 *
 * Memory: one chunk in flight (the client's save stream is pull-based and
 * each chunk is written before the next is read).
 * Errors: NOT_FOUND (unknown image), DOCKER (daemon), IO (the file); on any
 * failure the partial file is removed.
 */
import { open, rm, type FileHandle } from 'node:fs/promises';
import type { PatcherError } from '../errors.js';
import { fileError } from '../io/fs-errors.js';
import type { DockerClient } from './client.js';

/** A Node fs error as a one-line IO PatcherError (PatcherErrors pass through). */
export const fsError = fileError;

/** Write all of `bytes` at the handle's position (a write may be short); fs errors become IO. */
export async function writeAll(handle: FileHandle, bytes: Uint8Array, path: string): Promise<void> {
  try {
    for (let done = 0; done < bytes.length; ) {
      const { bytesWritten } = await handle.write(bytes, done, bytes.length - done);
      done += bytesWritten;
    }
  } catch (err) {
    throw fsError('write', path, err);
  }
}

/**
 * Save image `ref` (ID, short ID, name[:tag]) as a `docker save` archive at
 * `path` (created or truncated). `onBytes(n)` is called with the size of
 * each chunk written.
 */
export async function saveImageToFile(
  client: DockerClient,
  ref: string,
  path: string,
  onBytes?: (n: number) => void,
): Promise<void> {
  let handle;
  try {
    handle = await open(path, 'w');
  } catch (err) {
    throw fsError('write', path, err);
  }
  let ok = false;
  try {
    for await (const chunk of client.saveImage(ref)) {
      await writeAll(handle, chunk, path);
      onBytes?.(chunk.length);
    }
    try {
      await handle.close();
    } catch (err) {
      throw fsError('write', path, err);
    }
    ok = true;
  } finally {
    if (!ok) {
      await handle.close().catch(() => undefined);
      await rm(path, { force: true }).catch(() => undefined);
    }
  }
}
