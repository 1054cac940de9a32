/**
 * Ties apply's output to the image the user named, not to what the patch
 * says about itself. A patch carries its own sha256 values; a forged one can
 * make them all agree. So, as entries are rebuilt, this keeps what it takes
 * to read the new archive's layout afterwards (every tar header, the small
 * JSON entries, the first bytes of each entry, the real sha256 of each
 * entry's data, and for gzip and zstd entries the sha256 of their decoded
 * bytes),
 * and verify() then parses that layout with the same code that opens any
 * image archive (image/archive.ts) and checks, before the trailer goes out:
 *
 * - the config hashes to the new image ID (the header's, and the caller's,
 *   a short prefix resolved against the real digest);
 * - each layer's uncompressed bytes hash to the config's rootfs.diff_ids, in
 *   order, and its stored bytes to the digest its manifest names;
 * - every blobs/sha256/<hex> entry hashes to its name;
 * - the archive holds one image (docker load would load any other too);
 * - docker load can read it: every outer entry of a type its reader handles
 *   (a file, link, directory or device: typeflags 0-6, not GNU's contiguous
 *   '7' or vendor types, which parse here as files), and the archive ending in
 *   tar end blocks as Go's archive/tar reads them.
 *
 * Memory: the tar headers (about 1 KB per outer entry) plus the captured
 * JSON entries (at most 16 MiB each, 64 MiB in all).
 */
import { Gunzip } from 'fflate';
import { ErrorCode, PatcherError } from '../errors.js';
import { compressionByMagic, openImageArchive, type ImageArchive } from '../image/archive.js';
import { ZstdDecoder } from '../image/zstd.js';
import type { Hasher, HasherFactory } from '../image/hash.js';
import type { ByteSource } from '../image/source.js';
import { indexTar, type TarEntryInfo } from '../image/tar.js';
import { concatBytes } from '../format/bytes.js';
import type { EntryRecord, ImageIdentity, OldBlob } from '../format/image/container.js';

/** An image's JSON documents (manifests, index, config) stay far below this (as archive.ts reads them). */
const MAX_JSON = 16 * 1024 * 1024;
const MAX_CAPTURED = 64 * 1024 * 1024;
/** archive.ts reads a layer's first 4 bytes to tell its compression. */
const PREFIX = 4;
/** Compressed bytes decoded per step when hashing a gzip or zstd layer. */
const GZIP_STEP = 64 * 1024;

/** Outer entry types docker load's untar handles (0 also stands for NUL: tar-header.ts reads it so). */
const LOADABLE_TYPES = new Set('0123456');
/**
 * Stands for a reused stored (compressed) old blob a partial archive leaves
 * out: any compressed magic does, since a compressed layer's diff_id is
 * checked as its decoded sha256 whichever the compression.
 */
const GZIP_MAGIC = new Uint8Array([0x1f, 0x8b]);

const mismatch = (message: string) => new PatcherError(ErrorCode.DigestMismatch, message);

interface EntryDigests {
  /** sha256 of the entry's data, as rebuilt (checked against the patch's claim). */
  sha256: string;
  /** sha256 of the decoded data, for a gzip or zstd entry; undefined if it did not decode. */
  inflated?: string;
}

/** The entry being rebuilt. */
interface Current {
  dataAt: number;
  size: number;
  record: EntryRecord;
  head: Uint8Array;
  capture?: Uint8Array;
  filled: number;
  gunzip?: { inflater: Gunzip | ZstdDecoder; hash: Hasher; failed: boolean };
  /** Chunks seen before the first four bytes told whether the entry is gzip or zstd. */
  undecided?: Uint8Array[];
  /** apply compresses this entry itself from a text it hashed: not inflated here (see compressedHere). */
  compressedHere?: boolean;
}

export class NewImageCheck {
  /** Known byte ranges of the new archive, in order: headers, prefixes, captured data, padding. */
  readonly #pieces: Array<{ at: number; bytes: Uint8Array }> = [];
  readonly #digests = new Map<number, EntryDigests>();
  #captured = 0;
  #current: Current | undefined;

  readonly imageId: string;
  readonly manifestDigest: string | undefined;
  /** The tags the header names: what apply reports, so what docker load may set. */
  readonly tags: string[];

  constructor(
    readonly hasher: HasherFactory,
    identity: ImageIdentity & { tags: string[] },
    readonly expectNewId: string | undefined,
  ) {
    this.imageId = identity.imageId;
    this.manifestDigest = identity.manifestDigest;
    this.tags = identity.tags;
  }

  /** An entry with tar header `header` starts at archive offset `at`; a reused one names its old blob. */
  beginEntry(at: number, header: Uint8Array, record: EntryRecord, reused?: OldBlob): void {
    this.#pieces.push({ at, bytes: header.slice() });
    const dataAt = at + header.length;
    this.#current = { dataAt, size: record.size, record, head: new Uint8Array(0), filled: 0 };
    // A reused stored blob was checked against its digest when read; its diff_id is the old image's.
    if (reused?.stored) {
      this.#digests.set(dataAt, { sha256: record.sha256, inflated: reused.diffId });
      // Its gzip magic, for when a partial archive leaves it out: its bytes are then never seen here (written, they replace this).
      this.#pieces.push({ at: dataAt, bytes: GZIP_MAGIC });
    }
  }

  /** The entry's data, in order (reused entries too, when written). */
  data(bytes: Uint8Array): void {
    const e = this.#current;
    if (!e || bytes.length === 0) return;
    if (e.head.length < PREFIX) e.head = concatBytes([e.head, bytes.subarray(0, PREFIX - e.head.length)]);
    if (e.filled === 0 && e.record.kind !== 'reuse') this.#startCapture(e, bytes[0]);
    if (e.capture) e.capture.set(bytes, e.filled);
    e.filled += bytes.length;
    if (e.record.kind === 'reuse') return;
    if (!e.undecided) {
      if (e.gunzip) this.#inflate(e, bytes, false);
    } else if (e.head.length >= PREFIX) this.#decideGzip(e, bytes);
    else e.undecided.push(bytes.slice());
  }

  /**
   * The current entry is a gzip blob apply compresses itself (Go's model)
   * from a text it hashes as it goes: its inflated bytes are that text, so
   * it is not inflated again here. Call before its data; give the text's
   * digest (computed, never the patch's claim) with inflatedDigest() before
   * endEntry. (Inflating it here too cost 12 MB of peak RSS on the
   * registry-gz pair: fflate's streaming inflate churns buffers.)
   */
  compressedHere(): void {
    if (this.#current) this.#current.compressedHere = true;
  }

  /** The digest of the text the current entry (compressedHere) was compressed from. */
  inflatedDigest(digest: string): void {
    const e = this.#current;
    if (e?.compressedHere) this.#digests.set(e.dataAt, { sha256: e.record.sha256, inflated: digest });
  }

  /** The entry ended; `sha256` is its data's real digest (computed, or checked when its old blob was read). */
  endEntry(sha256: string, padding: Uint8Array): void {
    const e = this.#current;
    if (!e) return;
    this.#current = undefined;
    if (e.undecided) this.#decideGzip(e);
    if (e.gunzip) this.#inflate(e, new Uint8Array(0), true);
    const known = this.#digests.get(e.dataAt);
    this.#digests.set(e.dataAt, { sha256, inflated: known?.inflated ?? (e.gunzip && !e.gunzip.failed ? e.gunzip.hash.digest() : undefined) });
    this.#pieces.push({ at: e.dataAt, bytes: e.capture ?? e.head });
    if (padding.some((b) => b !== 0)) this.#pieces.push({ at: e.dataAt + e.size, bytes: padding.slice() });
    const blob = /^blobs\/sha256\/([0-9a-f]{64})$/.exec(e.record.name);
    if (blob && sha256 !== `sha256:${blob[1]}`) throw mismatch(`rebuilt ${e.record.name} hashes to ${sha256}, not to its name`);
  }

  /** JSON-looking data small enough to be a manifest or config is kept whole. */
  #startCapture(e: Current, first: number): void {
    e.undecided = [];
    const json = first === 0x7b || first === 0x5b; // '{' or '['
    if (!json || e.size > MAX_JSON || this.#captured + e.size > MAX_CAPTURED) return;
    e.capture = new Uint8Array(e.size);
    this.#captured += e.size;
  }

  #decideGzip(e: Current, last?: Uint8Array): void {
    const chunks = [...(e.undecided ?? []), ...(last ? [last] : [])];
    e.undecided = undefined;
    const compression = compressionByMagic(e.head);
    if (compression === 'none' || e.compressedHere) return;
    const hash = this.hasher();
    const onData = (out: Uint8Array) => hash.update(out);
    const state = { inflater: compression === 'gzip' ? new Gunzip(onData) : new ZstdDecoder(onData), hash, failed: false };
    e.gunzip = state;
    for (const c of chunks) this.#inflate(e, c, false);
  }

  #inflate(e: Current, bytes: Uint8Array, final: boolean): void {
    const g = e.gunzip!;
    if (g.failed) return;
    try {
      // Small steps: each one's output is hashed and dropped before the next (a literal frame holds 4 MiB).
      for (let at = 0; at < bytes.length; at += GZIP_STEP) g.inflater.push(bytes.subarray(at, at + GZIP_STEP), false);
      if (final) g.inflater.push(new Uint8Array(0), true);
    } catch {
      g.failed = true; // not a layer that inflates: verify() fails if it is a layer
    }
  }

  /** Layers found to match the config's diff_ids, once verify() has passed. */
  layersVerified = 0;

  /** Check the rebuilt archive (`size` bytes, ending in `trailer`) against the new image ID. */
  async verify(trailer: Uint8Array, size: number): Promise<void> {
    const source = sparseSource([...this.#pieces, { at: size - trailer.length, bytes: trailer }], size);
    const { entries, end } = await layout(() => indexTar(source));
    checkEnd(end.trailer, size - end.offset);
    const digestAt = (e: TarEntryInfo) => this.#digests.get(e.dataOffset);
    for (const e of entries) {
      if (!LOADABLE_TYPES.has(e.typeflag)) throw mismatch(`rebuilt ${e.name} has tar type ${JSON.stringify(e.typeflag)}, which docker load does not handle`);
      const blob = /^(?:\.\/)?blobs\/sha256\/([0-9a-f]{64})$/.exec(e.name);
      const d = digestAt(e);
      if (blob && e.type === 'file' && d?.sha256 !== `sha256:${blob[1]}`) throw mismatch(`rebuilt ${e.name} does not hash to its name`);
    }
    const opened = [await layout(() => openImageArchive(source, { hasher: this.hasher }))];
    if (opened[0].kind === 'docker-oci') opened.push(await layout(() => openImageArchive(source, { hasher: this.hasher, ociIndex: true })));
    for (const image of opened) this.#checkImage(image, digestAt);
    await this.#checkSingleImage(source, entries);
    this.layersVerified = opened[0].layers.length;
  }

  #checkImage(image: ImageArchive, digestAt: (e: TarEntryInfo) => EntryDigests | undefined): void {
    const how = image.kind === 'oci-archive' ? 'through index.json' : 'through manifest.json';
    // docker load sets the archive's tags: they must be the ones apply reports, never others a patch slipped in.
    const named = sameTags(image.tags, this.tags);
    if (!named) throw mismatch(`rebuilt archive tags the image ${JSON.stringify(image.tags)} (${how}), the patch says ${JSON.stringify(this.tags)}`);
    if (image.imageId !== this.imageId) {
      throw new PatcherError(ErrorCode.WrongImage, `the rebuilt image's config (${how}) hashes to ${image.imageId}, not to the new image ${this.imageId}`);
    }
    if (this.manifestDigest !== undefined && image.manifestDigest !== this.manifestDigest) {
      throw new PatcherError(ErrorCode.WrongImage, `the rebuilt image's manifest is ${image.manifestDigest ?? 'missing'}, not the new image's ${this.manifestDigest}`);
    }
    const names = (id: string | undefined) => id !== undefined && id.slice('sha256:'.length).startsWith(this.expectNewId!.toLowerCase().replace(/^sha256:/, ''));
    if (this.expectNewId !== undefined && !names(image.imageId) && !names(image.manifestDigest)) {
      throw new PatcherError(ErrorCode.WrongImage, `the rebuilt image is ${image.imageId}, not ${this.expectNewId}`);
    }
    image.layers.forEach((layer, i) => {
      const d = digestAt(layer.entry);
      const name = `layer ${i + 1} (${layer.entryName})`;
      if (!d) throw mismatch(`rebuilt ${name} was not checked`);
      if (layer.storedDigest !== undefined && d.sha256 !== layer.storedDigest) throw mismatch(`rebuilt ${name} hashes to ${d.sha256}, its manifest says ${layer.storedDigest}`);
      const diffId = layer.compression !== 'none' ? d.inflated : d.sha256;
      if (diffId !== layer.diffId) throw mismatch(`rebuilt ${name} has diff_id ${diffId ?? '(does not inflate)'}, the config says ${layer.diffId}`);
    });
  }

  /** docker load takes every image an archive lists: a patch may add none of its own. */
  async #checkSingleImage(source: ByteSource, entries: TarEntryInfo[]): Promise<void> {
    const json = async (name: string): Promise<any> => {
      const e = entries.find((x) => x.name.replace(/^\.\//, '') === name && x.type === 'file');
      if (!e) return undefined;
      try {
        return JSON.parse(new TextDecoder().decode(await source.read(e.dataOffset, e.size)));
      } catch {
        throw mismatch(`rebuilt ${name} is not valid JSON`);
      }
    };
    const manifest = await json('manifest.json');
    if (manifest !== undefined && (!Array.isArray(manifest) || manifest.length !== 1)) throw mismatch('rebuilt manifest.json lists more than the new image');
    const index = await json('index.json');
    const digests = new Set(Array.isArray(index?.manifests) ? index.manifests.map((d: any) => String(d?.digest)) : []);
    if (index !== undefined && digests.size !== 1) throw mismatch('rebuilt index.json lists more than the new image');
  }
}

/**
 * The end of the rebuilt archive must read as the end of a tar archive the
 * way docker load's reader (Go's archive/tar) reads it: nothing, one zero
 * block, or two zero blocks and then anything. A zero block followed by a
 * non-zero or partial one is a corrupt archive there (`invalid tar header`),
 * though the entries before it parse here.
 */
function checkEnd(trailer: Uint8Array, length: number): void {
  const second = trailer.subarray(512, 1024);
  if (length === 0 || length === 512 || (length >= 1024 && second.every((b) => b === 0))) return;
  throw mismatch(`the rebuilt archive does not end in tar end blocks (${length} bytes after the last entry${length >= 1024 ? ', the second block not zero' : ''}): docker load would refuse it`);
}

/** Parse the rebuilt layout; any failure is a mismatch with what the patch promised. */
async function layout<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    const why = err instanceof Error ? err.message : 'unknown error';
    throw mismatch(`the rebuilt archive does not hold a consistent image: ${why}`);
  }
}

/** The archive as far as it is known: the kept ranges, zeros elsewhere. */
function sparseSource(pieces: Array<{ at: number; bytes: Uint8Array }>, size: number): ByteSource {
  const source: ByteSource = {
    size,
    async read(offset, length) {
      if (offset < 0 || length < 0 || offset + length > size) throw new RangeError(`read past the rebuilt archive at ${offset}+${length}`);
      const out = new Uint8Array(length);
      for (const p of pieces) {
        const from = Math.max(offset, p.at);
        const to = Math.min(offset + length, p.at + p.bytes.length);
        if (from < to) out.set(p.bytes.subarray(from - p.at, to - p.at), from - offset);
      }
      return out;
    },
    async *stream(offset = 0, length = size - offset) {
      yield await source.read(offset, length);
    },
  };
  return source;
}

/** Docker names a Hub image with or without its registry prefix: compare them without it. */
const shortTag = (tag: string): string => tag.replace(/^docker\.io\/(library\/)?/, '');

/** The same set of tags, however each is spelled. */
function sameTags(a: readonly string[], b: readonly string[]): boolean {
  const [x, y] = [new Set(a.map(shortTag)), new Set(b.map(shortTag))];
  return x.size === y.size && [...x].every((t) => y.has(t));
}
