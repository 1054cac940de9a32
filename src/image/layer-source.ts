/**
 * Layer bytes as random-access sources. An uncompressed stored layer is a
 * window onto the archive (no copy); a gzip one is inflated once, into what
 * a LayerSpool gives (Node's CLI: a temp file; source.node.ts fileSpool),
 * else into memory (the price of random access into it: its uncompressed
 * size).
 */
import { openLayer, type ImageArchive } from './archive.js';
import type { HasherFactory } from './hash.js';
import { concatBytes } from '../format/bytes.js';
import { checkRange, memorySource, type ByteSource } from './source.js';

/** Bytes [offset, offset+size) of `src` as a source of their own. */
export function sliceSource(src: ByteSource, offset: number, size: number): ByteSource {
  const slice: ByteSource = {
    size,
    read(at, length) {
      checkRange(size, at, length, 'layer');
      return src.read(offset + at, length);
    },
    readInto: src.readInto && ((at, target) => {
      checkRange(size, at, target.length, 'layer');
      return src.readInto!(offset + at, target);
    }),
    // The source's own stream (a Blob's reads ahead), over the same range.
    stream(at = 0, length = size - at, chunkSize) {
      return (async function* () {
        checkRange(size, at, length, 'layer');
        yield* src.stream(offset + at, length, chunkSize);
      })();
    },
  };
  return slice;
}

/**
 * Keeps a gzip layer inflated for random access, where memory is short and
 * a disk is at hand (a temp file instead of a buffer): gets the stored
 * (gzip) bytes, inflates them (the platform's own inflate may churn less
 * memory than fflate's streaming one), keeps at most `limit` inflated bytes
 * (the caller sees an overlong layer as the wrong size), and returns a
 * source over them, closed by its user. Corrupt gzip data: BAD_IMAGE
 * naming `what`.
 */
export type LayerSpool = (gzip: AsyncIterable<Uint8Array>, limit: number, what: string) => Promise<ByteSource>;

/** Largest expected size inflated into one buffer allocated up front (a hint from a patch is not trusted further). */
const MAX_PREALLOCATED = 1024 * 1024 * 1024;

/**
 * Layer `i` of `archive`, uncompressed, as a ByteSource. With `expectedSize`
 * (apply knows it), a gzip layer inflates straight into one buffer of that
 * size instead of chunks plus their concatenation (half the peak); one that
 * inflates to more is cut there and shows the size mismatch to its caller.
 * With `spool`, a gzip layer goes there instead of into memory (cut the
 * same way).
 */
export async function layerSource(src: ByteSource, archive: ImageArchive, i: number, hasher: HasherFactory, expectedSize?: number, spool?: LayerSpool): Promise<ByteSource> {
  const layer = archive.layers[i];
  if (layer.compression === 'none') return sliceSource(src, layer.entry.dataOffset, layer.storedSize);
  const sizeKnown = expectedSize !== undefined && Number.isSafeInteger(expectedSize) && expectedSize >= 0;
  // One byte more than expected: an overlong layer shows as the wrong size.
  if (spool) return spool(src.stream(layer.entry.dataOffset, layer.storedSize), sizeKnown ? expectedSize + 1 : Infinity, layer.entryName);
  if (expectedSize !== undefined && Number.isSafeInteger(expectedSize) && expectedSize >= 0 && expectedSize <= MAX_PREALLOCATED) {
    const out = new Uint8Array(expectedSize + 1); // one byte more: an overlong layer shows as the wrong size
    let at = 0;
    for await (const chunk of openLayer(src, archive, i, { hasher })) {
      const n = Math.min(chunk.length, out.length - at);
      out.set(chunk.subarray(0, n), at);
      at += n;
      if (at === out.length) break;
    }
    return memorySource(out.subarray(0, at));
  }
  const chunks: Uint8Array[] = [];
  for await (const chunk of openLayer(src, archive, i, { hasher })) chunks.push(chunk.slice());
  return memorySource(concatBytes(chunks));
}

type Range = { source: ByteSource; offset: number; length: number };

/** Read `ranges` of sources one after another into one new buffer. */
export async function gather(ranges: Range[]): Promise<Uint8Array> {
  const out = new Uint8Array(ranges.reduce((n, r) => n + r.length, 0));
  await gatherInto(ranges, out);
  return out;
}

/** Read `ranges` one after another into `out` (exactly their total length). */
export async function gatherInto(ranges: Range[], out: Uint8Array): Promise<void> {
  let at = 0;
  for (const r of ranges) {
    const target = out.subarray(at, at + r.length);
    if (r.source.readInto) await r.source.readInto(r.offset, target);
    else target.set(await r.source.read(r.offset, r.length));
    at += r.length;
  }
}

/**
 * Stream [offset, offset+length) of `src` through one reused `buffer` (the
 * caller may pass its own, shared by every copy loop of a run): each
 * yielded chunk is valid only until the next step.
 * For copy and hash loops, where a fresh buffer per chunk would only feed
 * the garbage collector.
 */
export async function* streamReused(src: ByteSource, offset: number, length: number, buffer: Uint8Array = new Uint8Array(256 * 1024)): AsyncGenerator<Uint8Array> {
  if (!src.readInto) {
    yield* src.stream(offset, length, buffer.length);
    return;
  }
  for (let at = 0; at < length; at += buffer.length) {
    const view = buffer.subarray(0, Math.min(buffer.length, length - at));
    await src.readInto(offset + at, view);
    yield view;
  }
}
