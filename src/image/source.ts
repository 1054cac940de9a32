/**
 * Byte sources: random-access, read-only views of an input (a file, a
 * browser File/Blob, or bytes in memory) with positional reads and a chunked
 * stream. Platform-neutral; the Node file source lives in source.node.ts.
 *
 * Memory: memorySource holds the caller's buffer (no copy, reads are views).
 * blobSource and fileSource hold nothing; each read allocates `length` bytes.
 * fileSource's stream() holds one chunk (default 256 KiB) at a time,
 * blobSource's two reads of max(chunk, 2 MiB) (streamAhead).
 */

import { ErrorCode, PatcherError } from '../errors.js';

/** Default chunk size of ByteSource.stream(), in bytes. */
export const DEFAULT_CHUNK_SIZE = 256 * 1024;

export interface ByteSource {
  /** Total size in bytes. */
  readonly size: number;
  /**
   * Read exactly `length` bytes at `offset`. Throws a PatcherError (IO) when
   * the range goes past `size`. The result may be a view: do not modify it.
   */
  read(offset: number, length: number): Promise<Uint8Array>;
  /**
   * Stream `length` bytes (default: to the end) from `offset` (default 0) in
   * chunks of at most `chunkSize` bytes (default DEFAULT_CHUNK_SIZE). Pulled
   * one chunk at a time, so a slow consumer slows the reads.
   */
  stream(offset?: number, length?: number, chunkSize?: number): AsyncIterable<Uint8Array>;
  /**
   * Fill `target` with the bytes at `offset` (optional). Lets a copy loop
   * reuse one buffer instead of allocating a chunk per read.
   */
  readInto?(offset: number, target: Uint8Array): Promise<void>;
  /** Release the underlying handle, if any. Safe to call twice. */
  close?(): Promise<void>;
}

/** Check a requested range against a source size; one-line IO error if outside. */
export function checkRange(size: number, offset: number, length: number, what: string): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw new PatcherError(ErrorCode.Io, `invalid read of ${what}: offset ${offset}, length ${length}`);
  }
  if (offset + length > size) {
    throw new PatcherError(ErrorCode.Io, `read past end of ${what}: ${offset}+${length} > ${size} bytes`);
  }
}

/** Where a stream() of `length` bytes (the rest when undefined) from `offset` ends; throws on a bad range or chunk size. */
function streamEnd(size: number, offset: number, length: number | undefined, chunkSize: number): number {
  const end = length === undefined ? size : offset + length;
  checkRange(size, offset, end - offset, 'source');
  if (!(chunkSize > 0)) throw new PatcherError(ErrorCode.Usage, `invalid chunk size ${chunkSize}`);
  return end;
}

/**
 * Build stream() from read(): a generator that pulls one chunk per step.
 * Used by every source; `read` must return exactly the bytes requested.
 */
export async function* streamByReads(
  source: Pick<ByteSource, 'size' | 'read'>,
  offset = 0,
  length?: number,
  chunkSize = DEFAULT_CHUNK_SIZE,
): AsyncGenerator<Uint8Array> {
  const end = streamEnd(source.size, offset, length, chunkSize);
  for (let pos = offset; pos < end; ) {
    const n = Math.min(chunkSize, end - pos);
    yield await source.read(pos, n);
    pos += n;
  }
}

/** streamAhead's smallest read: fewer round trips to the browser's file reader (measured: 256 KiB reads take twice as long). */
const AHEAD_READ = 2 * 1024 * 1024;

/**
 * stream() for sources whose reads are slow round trips (a browser Blob):
 * reads of max(chunkSize, 2 MiB), each started before the one before it is
 * handed out, so reading overlaps the consumer's work (hashing). Chunks are
 * still at most `chunkSize` bytes (views into a read). Memory: two reads.
 */
export async function* streamAhead(
  source: Pick<ByteSource, 'size' | 'read'>,
  offset = 0,
  length?: number,
  chunkSize = DEFAULT_CHUNK_SIZE,
): AsyncGenerator<Uint8Array> {
  const end = streamEnd(source.size, offset, length, chunkSize);
  const readSize = Math.max(chunkSize, AHEAD_READ);
  const readAt = (pos: number) => {
    const pending = source.read(pos, Math.min(readSize, end - pos));
    pending.catch(() => {}); // seen when awaited; the consumer may stop before then
    return pending;
  };
  let pos = offset;
  let next = pos < end ? readAt(pos) : undefined;
  while (next) {
    const bytes = await next;
    pos += bytes.length;
    next = pos < end ? readAt(pos) : undefined;
    for (let at = 0; at < bytes.length; at += chunkSize) yield bytes.subarray(at, at + chunkSize);
  }
}

/** A source over bytes already in memory. Reads return views, not copies. */
export function memorySource(bytes: Uint8Array): ByteSource {
  const source: ByteSource = {
    size: bytes.byteLength,
    async read(offset, length) {
      checkRange(bytes.byteLength, offset, length, 'memory source');
      return bytes.subarray(offset, offset + length);
    },
    stream(offset, length, chunkSize) {
      return streamByReads(source, offset, length, chunkSize);
    },
  };
  return source;
}

/** A source over a Blob (a browser File); each read slices the blob; stream() reads ahead. */
export function blobSource(blob: Blob): ByteSource {
  const source: ByteSource = {
    size: blob.size,
    async read(offset, length) {
      checkRange(blob.size, offset, length, 'file');
      const buffer = await blob.slice(offset, offset + length).arrayBuffer();
      if (buffer.byteLength !== length) {
        throw new PatcherError(ErrorCode.Io, `short read of file at ${offset}: ${buffer.byteLength} of ${length} bytes`);
      }
      return new Uint8Array(buffer);
    },
    stream(offset, length, chunkSize) {
      return streamAhead(source, offset, length, chunkSize);
    },
  };
  return source;
}
