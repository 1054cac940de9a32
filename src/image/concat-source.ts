/**
 * One ByteSource made of others laid end to end: an archive assembled
 * from small in-memory pieces (tar headers, JSON) and slices of files on
 * disk, without writing the whole archive anywhere. Reads that cross part
 * boundaries are stitched together; stream() pulls one read at a time.
 *
 * Memory: the part table (a few numbers per part); each read allocates
 * `length` bytes when it crosses a boundary, else returns the part's own
 * read. close() closes the parts this source owns (see concatSources).
 */

import { checkRange, streamByReads, type ByteSource } from './source.js';

/** A slice of a source: `length` bytes from `offset` (default: all of it). */
export interface SourcePart {
  source: ByteSource;
  offset?: number;
  length?: number;
}

/**
 * The parts in order as one source. close() closes nothing by default
 * (parts may be shared between several concatenations); pass `onClose`
 * to release what the caller wants released.
 */
export function concatSources(parts: readonly SourcePart[], onClose?: () => Promise<void>): ByteSource {
  const starts: number[] = [];
  const slices = parts.map((p) => {
    const offset = p.offset ?? 0;
    const length = p.length ?? p.source.size - offset;
    checkRange(p.source.size, offset, length, 'part of a concatenated source');
    return { source: p.source, offset, length };
  });
  let size = 0;
  for (const s of slices) {
    starts.push(size);
    size += s.length;
  }
  /** Index of the last part starting at or before `pos` with bytes in it. */
  const partAt = (pos: number): number => {
    let lo = 0;
    let hi = slices.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= pos) lo = mid;
      else hi = mid - 1;
    }
    while (lo < slices.length - 1 && starts[lo]! + slices[lo]!.length <= pos) lo++;
    return lo;
  };
  let closed = false;
  const source: ByteSource = {
    size,
    async read(offset, length) {
      checkRange(size, offset, length, 'concatenated source');
      if (length === 0) return new Uint8Array(0);
      let i = partAt(offset);
      const first = slices[i]!;
      const within = offset - starts[i]!;
      if (within + length <= first.length) return first.source.read(first.offset + within, length);
      const out = new Uint8Array(length);
      for (let done = 0; done < length; i++) {
        const part = slices[i]!;
        const from = offset + done - starts[i]!;
        const n = Math.min(part.length - from, length - done);
        if (n > 0) out.set(await part.source.read(part.offset + from, n), done);
        done += Math.max(n, 0);
      }
      return out;
    },
    stream(offset, length, chunkSize) {
      return streamByReads(source, offset, length, chunkSize);
    },
    async close() {
      if (closed) return;
      closed = true;
      await onClose?.();
    },
  };
  return source;
}
