/**
 * A Blob as a ByteSource that reads it in aligned blocks, several ahead of
 * the last one touched, and serves the library's reads from those blocks.
 *
 * Why: each Blob read in a worker is a round trip to the browser process.
 * apply reads the old image twice: whole layers to check their diff_ids
 * (2 MB reads, one ahead), then the copied stretches of them while it
 * rebuilds, one short read per stretch (~350 reads on the nginx pair, most
 * of a 128 MB layer), each waited for before the bytes go on. Blocks
 * fetched ahead turn both into a few large reads that overlap the work.
 *
 * Memory: at most KEEP blocks of BLOCK bytes (12 MiB), fetched or in flight.
 */
import { PatcherError, ErrorCode } from '../src/errors.js';
import { streamAhead, type ByteSource } from '../src/image/source.js';

/** Bytes per read of the Blob (aligned: block i is [i*BLOCK, (i+1)*BLOCK)). */
const BLOCK = 2 * 1024 * 1024;
/** Blocks fetched past the one a read touches: a sequential reader never waits once they are in. */
const AHEAD = 3;
/** Blocks kept, least recently used dropped first: the ones ahead plus a few behind for reads that step back. */
const KEEP = 6;

export interface ReadAheadOptions {
  /** Called with the bytes of each read the caller asks for (not of the blocks behind it). */
  onRead?(length: number): void;
}

export function readAheadSource(blob: Blob, options: ReadAheadOptions = {}): ByteSource {
  const blocks = new Map<number, Promise<Uint8Array>>();
  const lastBlock = Math.max(0, Math.ceil(blob.size / BLOCK) - 1);

  const fetchBlock = (i: number): Promise<Uint8Array> => {
    const start = i * BLOCK;
    const end = Math.min(blob.size, start + BLOCK);
    const pending = blob.slice(start, end).arrayBuffer().then((buffer) => {
      if (buffer.byteLength !== end - start) {
        throw new PatcherError(ErrorCode.Io, `short read of file at ${start}: ${buffer.byteLength} of ${end - start} bytes`);
      }
      return new Uint8Array(buffer);
    });
    // A failed block is fetched again when next asked for; a prefetch nobody awaits fails quietly.
    pending.catch(() => blocks.get(i) === pending && blocks.delete(i));
    return pending;
  };

  /** Block i, most recently used now; starts the AHEAD blocks after it. */
  const block = (i: number): Promise<Uint8Array> => {
    const wanted = blocks.get(i) ?? fetchBlock(i);
    for (let j = i + 1; j <= Math.min(lastBlock, i + AHEAD); j++) {
      const have = blocks.get(j);
      blocks.delete(j);
      blocks.set(j, have ?? fetchBlock(j));
    }
    // Block i goes in last, as the most recently used.
    blocks.delete(i);
    blocks.set(i, wanted);
    while (blocks.size > KEEP) blocks.delete(blocks.keys().next().value!);
    return wanted;
  };

  const check = (offset: number, length: number): void => {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > blob.size) {
      throw new PatcherError(ErrorCode.Io, `file read at ${offset}+${length} outside its ${blob.size} bytes`);
    }
  };

  /** Copy [offset, offset + target.length) into target, block by block. */
  const fill = async (offset: number, target: Uint8Array): Promise<void> => {
    for (let done = 0; done < target.length; ) {
      const at = offset + done;
      const bytes = await block(Math.floor(at / BLOCK));
      const from = at % BLOCK;
      const n = Math.min(target.length - done, bytes.length - from);
      target.set(bytes.subarray(from, from + n), done);
      done += n;
    }
  };

  const source: ByteSource = {
    size: blob.size,
    async read(offset, length) {
      check(offset, length);
      options.onRead?.(length);
      const from = offset % BLOCK;
      // Within one block: a view of it (readers do not modify what read returns).
      if (length > 0 && from + length <= BLOCK) return (await block(Math.floor(offset / BLOCK))).subarray(from, from + length);
      const out = new Uint8Array(length);
      await fill(offset, out);
      return out;
    },
    async readInto(offset, target) {
      check(offset, target.length);
      options.onRead?.(target.length);
      await fill(offset, target);
    },
    stream: (offset, length, chunkSize) => streamAhead(source, offset, length, chunkSize),
  };
  return source;
}
