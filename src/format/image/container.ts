/**
 * The image patch's records, on top of frames.ts:
 *
 *   HEADER   JSON PatchHeader, deflated: both identities of both images, the old blobs needed, the new
 *            archive's size, the new layers' diff_ids
 *   ENTRY    one per outer tar entry of the new archive, in order: its
 *            JSON EntryRecord and exact tar header bytes (EntryCodec);
 *            followed by its data frames: LITERAL (deflated chunks) for
 *            small files, WINDOW frames (window.ts) and GZIP frames
 *            (gzip-entry.ts: a .gz file diffed decoded) for a changed layer,
 *            none for a reused layer (taken whole from the old image)
 *   END      JSON EndRecord: the archive's trailing bytes and its layout digest
 */
import { deflateSync } from 'fflate';
import { badPatch } from '../../errors.js';
import type { Hasher, HasherFactory } from '../../image/hash.js';
import { inflateExact } from '../bytes.js';
import { MAX_LITERAL_CHUNK, MAX_WINDOW_SIZE } from './limits.js';
import { FrameType, type FrameReader } from './frames.js';
import { checkEndRecord, checkEntryRecord, checkHeader, type EndRecord, type EntryRecord, type PatchHeader } from './records.js';

export { checkHeader, describeIdentity, MAX_TRAILER_SIZE, type EndRecord, type EntryKind, type EntryRecord, type ImageIdentity, type OldBlob, type PatchHeader } from './records.js';

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
    const record = checkEntryRecord(decodeJson<unknown>(raw.subarray(8, 8 + jsonLength), 'entry record'));
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
    if (size > room) throw badPatch(`literal frame of ${size} bytes runs past its entry (${room} bytes left)`);
    if (size > MAX_LITERAL_CHUNK) throw badPatch(`literal frame claims ${size} bytes (limit ${MAX_LITERAL_CHUNK})`);
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

/** Decode a HEADER payload and check every field; windows may be at most `maxWindowSize` bytes. */
export function decodeHeader(payload: Uint8Array, maxWindowSize: number): PatchHeader {
  if (payload.length < 4) throw badPatch('header truncated');
  const size = new DataView(payload.buffer, payload.byteOffset, 4).getUint32(0, true);
  if (size > MAX_HEADER) throw badPatch(`header claims ${size} bytes`);
  return checkHeader(decodeJson<unknown>(unpack(payload.subarray(4), size, 'header'), 'header'), maxWindowSize);
}

/** The header lists a few numbers per old layer and new layer: far below this. */
const MAX_HEADER = 64 * 1024 * 1024;

/** Read the magic and the header frame: what every patch reader does first. */
export async function readHeader(frames: FrameReader, maxWindowSize = MAX_WINDOW_SIZE): Promise<PatchHeader> {
  await frames.readMagic();
  const first = await frames.next();
  if (!first || first.type !== FrameType.Header) throw badPatch('the first frame is not the header');
  return decodeHeader(first.payload, maxWindowSize);
}

/** Decode an END payload; its trailer may hold at most `room` bytes (what the archive size still allows). */
export function decodeEnd(payload: Uint8Array, room: number): { end: EndRecord; trailer: Uint8Array } {
  const end = checkEndRecord(decodeJson<unknown>(payload, 'end record'), room);
  return { end, trailer: unpack(fromHex(end.trailer, 'trailer'), end.trailerSize, 'trailer') };
}

/** Deflate `data` one-shot (fflate's streaming deflate is not used: known bug). */
export function pack(data: Uint8Array, level = 9): Uint8Array {
  return deflateSync(data, { level: level as 9 });
}

/** Inflate exactly `size` bytes (bounded by the caller), refusing anything longer. */
export const unpack = inflateExact;

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
