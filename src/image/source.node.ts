/**
 * Node-only pieces of src/image: a ByteSource over a file (node:fs handle,
 * positional reads) and a sha256 Hasher over node:crypto. The only file in
 * src/image that may import node modules.
 *
 * Memory: nothing beyond the bytes each read returns (see source.ts).
 */

import { createHash } from 'node:crypto';
import { readSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { ErrorCode, PatcherError } from '../errors.js';
import { fileError } from '../io/fs-errors.js';
import type { Hasher } from './hash.js';
import { checkRange, streamByReads, type ByteSource } from './source.js';

/** A one-line reason for a failed open. */
const openFailure = (path: string, err: unknown): PatcherError => fileError('read', path, err);

/** Reads up to this size are done synchronously (see readInto). */
const SYNC_READ_MAX = 64 * 1024;

/** Open `path` for positional reads. Call close() when done. */
export async function fileSource(path: string): Promise<ByteSource> {
  let handle;
  let size: number;
  try {
    handle = await open(path, 'r');
    const stat = await handle.stat();
    if (stat.isDirectory()) throw Object.assign(new Error('directory'), { code: 'EISDIR' });
    size = stat.size;
  } catch (err) {
    await handle?.close().catch(() => undefined);
    throw openFailure(path, err);
  }
  const fh = handle;
  let closed = false;
  const source: ByteSource = {
    size,
    async read(offset, length) {
      const out = new Uint8Array(length);
      await source.readInto!(offset, out);
      return out;
    },
    async readInto(offset, out) {
      const length = out.length;
      checkRange(size, offset, length, path);
      for (let done = 0; done < length; ) {
        // Small reads (tar headers) go straight to the kernel: a trip through
        // libuv's thread pool costs more than the read itself.
        const bytesRead = length - done <= SYNC_READ_MAX
          ? readSync(fh.fd, out, done, length - done, offset + done)
          : (await fh.read(out, done, length - done, offset + done)).bytesRead;
        if (bytesRead === 0) {
          throw new PatcherError(ErrorCode.Io, `cannot read ${path}: file shrank while reading (at ${offset + done})`);
        }
        done += bytesRead;
      }
    },
    stream(offset, length, chunkSize) {
      return streamByReads(source, offset, length, chunkSize);
    },
    async close() {
      if (closed) return;
      closed = true;
      await fh.close();
    },
  };
  return source;
}

/** sha256 Hasher backed by node:crypto. Pass as the HasherFactory. */
export function nodeHasher(): Hasher {
  const hash = createHash('sha256');
  return {
    update(bytes) {
      hash.update(bytes);
    },
    digest() {
      return 'sha256:' + hash.digest('hex');
    },
  };
}
