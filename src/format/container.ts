/**
 * The image patch's records, on top of frames.ts:
 *
 *   HEADER   JSON PatchHeader, deflated: both image IDs, the old blobs needed, the new
 *            archive's size, the new layers' diff_ids
 *   ENTRY    one per outer tar entry of the new archive, in order: its
 *            JSON EntryRecord and exact tar header bytes (EntryCodec);
 *            followed by its data frames: LITERAL (deflated chunks) for
 *            small files, WINDOW frames (window.ts) for a changed layer,
 *            none for a reused layer (taken whole from the old image)
 *   END      JSON EndRecord: the archive's trailing bytes and its layout digest
 */
import { deflateSync, inflateSync } from 'fflate';
import { badPatch } from '../errors.js';
import type { Hasher, HasherFactory } from '../image/hash.js';

export interface OldBlob {
  /** diff_id of the old layer (sha256 of its uncompressed tar). */
  diffId: string;
  /**
   * Set when the blob is the layer's stored (compressed) bytes rather than
   * its uncompressed tar: their sha256. A compressed layer both images
   * share is reused this way, byte for byte.
   */
  stored?: string;
  size: number;
  /** True when apply needs all of it (a reused layer); else only `ranges`. */
  whole: boolean;
  /** [offset, length] pairs, sorted and merged, that windows read. */
  ranges: Array<[number, number]>;
}

export interface PatchHeader {
  tool: 'docker-patcher';
  formatVersion: number;
  old: { imageId: string; blobs: OldBlob[] };
  new: {
    imageId: string;
    tags: string[];
    kind: string;
    archiveSize: number;
    entries: number;
    layers: Array<{ diffId: string; size: number }>;
  };
  windowSize: number;
}

export type EntryKind = 'none' | 'literal' | 'reuse' | 'delta';

export interface EntryRecord {
  name: string;
  kind: EntryKind;
  /** Bytes of data. */
  size: number;
  /** sha256 of the data ('sha256:<hex>'), checked by apply. */
  sha256: string;
  /** For a reused layer: index into header.old.blobs. */
  blob?: number;
  /** For a layer: its diff_id. */
  diffId?: string;
  /** Padding after the data, hex, only when it is not all zeros. */
  padding?: string;
  /**
   * Part of a layer that the old and new images share at the same place in
   * their stacks: a daemon holding the old image already has it, so a
   * partial archive for it may leave this entry out.
   */
  partialSkip?: boolean;
}

export interface EndRecord {
  /** The archive's end blocks (and anything after), hex of the deflated bytes. */
  trailer: string;
  trailerSize: number;
  /** The new archive's LayoutDigest: every header, data digest and padding, then the trailer. */
  layoutSha256: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function encodeJson(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

export function decodeJson<T>(bytes: Uint8Array, what: string): T {
  try {
    return JSON.parse(decoder.decode(bytes)) as T;
  } catch {
    throw badPatch(`${what} is not valid JSON`);
  }
}

/**
 * ENTRY payloads are deflated with the previous entry's raw payload as the
 * dictionary: consecutive tar headers and records differ in a few fields,
 * so each costs tens of bytes instead of a 512-byte block. Stateful: one
 * codec per patch, used in entry order by both writer and reader.
 */
export class EntryCodec {
  #previous: Uint8Array = new Uint8Array(0);

  encode(record: EntryRecord, header: Uint8Array): Uint8Array {
    const json = encodeJson(record);
    const raw = new Uint8Array(8 + json.length + header.length);
    const view = new DataView(raw.buffer);
    view.setUint32(0, json.length, true);
    view.setUint32(4, header.length, true);
    raw.set(json, 8);
    raw.set(header, 8 + json.length);
    const packed = deflateSync(raw, { level: 9, dictionary: this.#previous });
    this.#previous = raw;
    const out = new Uint8Array(4 + packed.length);
    new DataView(out.buffer).setUint32(0, raw.length, true);
    out.set(packed, 4);
    return out;
  }

  decode(payload: Uint8Array): { record: EntryRecord; header: Uint8Array } {
    if (payload.length < 4) throw badPatch('entry record truncated');
    const size = new DataView(payload.buffer, payload.byteOffset, 4).getUint32(0, true);
    if (size > MAX_ENTRY_RECORD) throw badPatch(`entry record claims ${size} bytes`);
    const raw = unpack(payload.subarray(4), size, 'entry record', this.#previous);
    this.#previous = raw;
    if (raw.length < 8) throw badPatch('entry record truncated');
    const view = new DataView(raw.buffer, raw.byteOffset, 8);
    const jsonLength = view.getUint32(0, true);
    const headerLength = view.getUint32(4, true);
    if (8 + jsonLength + headerLength !== raw.length) throw badPatch('entry record lengths do not add up');
    const record = decodeJson<EntryRecord>(raw.subarray(8, 8 + jsonLength), 'entry record');
    const kinds: EntryKind[] = ['none', 'literal', 'reuse', 'delta'];
    if (typeof record.name !== 'string' || !kinds.includes(record.kind) || !Number.isSafeInteger(record.size) || record.size < 0 || typeof record.sha256 !== 'string') {
      throw badPatch('entry record has missing or bad fields');
    }
    const header = raw.subarray(8 + jsonLength);
    if (header.length === 0 || header.length % 512 !== 0) throw badPatch(`entry ${record.name} has a bad tar header length`);
    return { record, header };
  }
}

/**
 * LITERAL payloads: u8 method (0 stored, 1 deflate), u32 raw length, bytes.
 * Deflated with the last 32 KiB of literal data before it as the
 * dictionary: an image's small JSON files (config, v1 layer configs,
 * manifest) repeat each other's keys and values. Stateful like EntryCodec.
 */
export class LiteralCodec {
  #history: Uint8Array = new Uint8Array(0);

  #remember(data: Uint8Array): void {
    const keep = Math.min(DICTIONARY_SIZE, this.#history.length + data.length);
    const next = new Uint8Array(keep);
    const fromData = Math.min(keep, data.length);
    next.set(this.#history.subarray(this.#history.length - (keep - fromData)), 0);
    next.set(data.subarray(data.length - fromData), keep - fromData);
    this.#history = next;
  }

  encode(data: Uint8Array): Uint8Array {
    const packed = deflateSync(data, { level: 9, dictionary: this.#history });
    this.#remember(data);
    const deflated = packed.length < data.length;
    const body = deflated ? packed : data;
    const out = new Uint8Array(5 + body.length);
    out[0] = deflated ? 1 : 0;
    new DataView(out.buffer).setUint32(1, data.length, true);
    out.set(body, 5);
    return out;
  }

  /** Decode, refusing more than `room` bytes. */
  decode(payload: Uint8Array, room: number): Uint8Array {
    if (payload.length < 5 || payload[0] > 1) throw badPatch('literal frame truncated or of an unknown method');
    const size = new DataView(payload.buffer, payload.byteOffset, 5).getUint32(1, true);
    if (size > room) throw badPatch('literal frame runs past its entry');
    const body = payload.subarray(5);
    const data = payload[0] === 1 ? unpack(body, size, 'literal frame', this.#history) : body;
    if (data.length !== size) throw badPatch('literal frame has the wrong length');
    this.#remember(data);
    return data;
  }
}

/** deflate's window: older history could not be referenced anyway. */
const DICTIONARY_SIZE = 32 * 1024;

/** An entry's tar header blocks plus JSON stay far below this. */
const MAX_ENTRY_RECORD = 16 * 1024 * 1024;

/** HEADER payload: u32 length of the JSON, then the JSON deflated (its digests are most of it; the rest compresses). */
export function encodeHeader(header: PatchHeader): Uint8Array {
  const json = encodeJson(header);
  const packed = pack(json);
  const out = new Uint8Array(4 + packed.length);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(packed, 4);
  return out;
}

export function decodeHeader(payload: Uint8Array): PatchHeader {
  if (payload.length < 4) throw badPatch('header truncated');
  const size = new DataView(payload.buffer, payload.byteOffset, 4).getUint32(0, true);
  if (size > MAX_HEADER) throw badPatch(`header claims ${size} bytes`);
  return checkHeader(decodeJson<PatchHeader>(unpack(payload.subarray(4), size, 'header'), 'header'));
}

/** The header lists a few numbers per old layer and new layer: far below this. */
const MAX_HEADER = 64 * 1024 * 1024;

export function checkHeader(h: PatchHeader): PatchHeader {
  const ok =
    h && h.tool === 'docker-patcher' && h.old && h.new && Array.isArray(h.old.blobs) &&
    typeof h.old.imageId === 'string' && typeof h.new.imageId === 'string' &&
    Number.isSafeInteger(h.new.archiveSize) && Number.isSafeInteger(h.windowSize) && h.windowSize > 0 &&
    h.old.blobs.every((b) => typeof b.diffId === 'string' && (b.stored === undefined || typeof b.stored === 'string') && Number.isSafeInteger(b.size) && Array.isArray(b.ranges));
  if (!ok) throw badPatch('header has missing or bad fields');
  return h;
}

/** Deflate `data` one-shot (fflate's streaming deflate is not used: known bug). */
export function pack(data: Uint8Array, level = 9): Uint8Array {
  return deflateSync(data, { level: level as 9 });
}

/** Inflate exactly `size` bytes, refusing anything longer. */
export function unpack(data: Uint8Array, size: number, what: string, dictionary?: Uint8Array): Uint8Array {
  const out = new Uint8Array(size + 1);
  let inflated: Uint8Array;
  try {
    inflated = inflateSync(data, { out, dictionary });
  } catch (err) {
    throw badPatch(`${what} does not inflate (${(err as Error).message})`);
  }
  if (inflated.length !== size) throw badPatch(`${what} inflates to the wrong size`);
  return out.subarray(0, size);
}

export const toHex = (bytes: Uint8Array): string => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

export function fromHex(hex: string, what: string): Uint8Array {
  if (typeof hex !== 'string' || hex.length % 2 !== 0 || !/^[0-9a-f]*$/.test(hex)) throw badPatch(`${what} is not hex`);
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/**
 * The archive's layout digest: sha256 over each entry's tar header bytes,
 * its data digest (the 'sha256:<hex>' text) and its padding, in order, then
 * the trailer. Every entry's data is checked against its own digest, so
 * this pins the archive byte for byte without hashing layer data a second
 * time (create never reads a reused layer; apply hashes it once, when it
 * checks the old layer). Create and apply compute it the same way.
 */
export class LayoutDigest {
  readonly #hash: Hasher;
  readonly #text = new TextEncoder();

  constructor(hasher: HasherFactory) {
    this.#hash = hasher();
  }

  entry(header: Uint8Array, dataSha256: string, padding: Uint8Array): void {
    this.#hash.update(header);
    this.#hash.update(this.#text.encode(dataSha256));
    this.#hash.update(padding);
  }

  end(trailer: Uint8Array): string {
    this.#hash.update(trailer);
    return this.#hash.digest();
  }
}
