/**
 * Node-only pieces of src/image: a ByteSource over a file (node:fs handle,
 * positional reads), a LayerSpool into temp files, and a sha256 Hasher over
 * node:crypto. The only file in src/image that may import node modules.
 *
 * Memory: nothing beyond the bytes each read returns (see source.ts); a
 * spool holds one chunk in flight.
 */

import { createHash } from 'node:crypto';
import { readSync } from 'node:fs';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { ErrorCode, PatcherError, badImage } from '../errors.js';
import { fileError } from '../io/fs-errors.js';
import type { Hasher } from './hash.js';
import type { LayerSpool } from './layer-source.js';
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

/**
 * A LayerSpool inflating each layer (node:zlib: its output buffers are
 * about the size of what it made, where fflate's streaming inflate
 * allocates several window-sized ones per step; on the registry-gz pair
 * RSS after reading the old layers is 65 MB, 86 MB with fflate) to a new
 * file `old-layer-N` in `dir` (a directory of
 * the caller's, e.g. the CLI's temp dir). The source it returns deletes the
 * file on close(), as does a failure.
 */
export function fileSpool(dir: string): LayerSpool {
  let count = 0;
  return async (gzip, limit, what) => {
    const path = join(dir, `old-layer-${count++}`);
    let handle: FileHandle | undefined;
    let kept = 0;
    try {
      handle = await open(path, 'wx');
      const file = handle;
      await pipeline(gzip, createGunzip(), async (inflated: AsyncIterable<Buffer>) => {
        for await (const chunk of inflated) {
          const piece = chunk.subarray(0, Math.min(chunk.length, limit - kept));
          for (let done = 0; done < piece.length; ) done += (await file.write(piece, done, piece.length - done)).bytesWritten;
          kept += piece.length;
          if (kept >= limit) return; // the rest is not needed: the caller sees the wrong size
        }
      }).catch((err: unknown) => {
        if (kept < limit || (err as NodeJS.ErrnoException)?.code !== 'ABORT_ERR') throw err;
      });
      await handle.close();
      handle = undefined;
    } catch (err) {
      await handle?.close().catch(() => undefined);
      await rm(path, { force: true }).catch(() => undefined);
      const code = (err as NodeJS.ErrnoException)?.code ?? '';
      if (code.startsWith('Z_')) throw badImage(`corrupt gzip layer ${what}: ${(err as Error).message}`);
      throw fileError('write', path, err);
    }
    const source = await fileSource(path);
    const close = source.close!;
    return {
      ...source,
      async close() {
        await close();
        await rm(path, { force: true });
      },
    };
  };
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
