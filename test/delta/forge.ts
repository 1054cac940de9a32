/**
 * Decode an image patch into editable records and encode it back with every
 * digest the patch holds about itself recomputed (entry sha256s, the layout
 * digest, frame checksums): what a forger with the format at hand can do.
 * Records are kept as raw JSON, so a test can put any value in any field.
 */
import { inflateSync } from 'fflate';
import { EntryCodec, LayoutDigest, LiteralCodec, encodeHeader, encodeJson, fromHex, pack, toHex, unpack } from '../../src/format/image/container.js';
import { FrameType, encodeFrame, encodeMagic } from '../../src/format/image/frames.js';
import { hashBytes } from '../../src/image/hash.js';
import { paddingSize } from '../../src/image/tar-header.js';
import { concat, nodeHasher, walkFrames } from './util.js';

export interface ForgedEntry {
  record: any;
  tarHeader: Uint8Array;
  /** A literal entry's data, whole (re-chunked on encode). */
  data?: Uint8Array;
  /** Any other data frames (windows), as they were. */
  frames: Array<{ type: number; payload: Uint8Array }>;
}

export interface ForgedPatch {
  header: any;
  entries: ForgedEntry[];
  end: any;
  trailer: Uint8Array;
}

const json = (bytes: Uint8Array) => JSON.parse(new TextDecoder().decode(bytes));

export function decodePatch(patch: Uint8Array): ForgedPatch {
  const frames = walkFrames(patch);
  const head = frames[0].payload;
  const header = json(inflateSync(head.subarray(4)));
  const codec = new EntryCodec();
  const literals = new LiteralCodec();
  const entries: ForgedEntry[] = [];
  let end: any;
  for (const f of frames.slice(1)) {
    if (f.type === FrameType.Entry) {
      const { record, header: tarHeader } = codec.decode(f.payload);
      entries.push({ record, tarHeader: tarHeader.slice(), frames: [], data: record.kind === 'literal' ? new Uint8Array(0) : undefined });
    } else if (f.type === FrameType.Literal) {
      const e = entries.at(-1)!;
      e.data = concat([e.data!, literals.decode(f.payload, Number.MAX_SAFE_INTEGER).slice()]);
    } else if (f.type === FrameType.End) {
      end = json(f.payload);
    } else {
      entries.at(-1)!.frames.push({ type: f.type, payload: f.payload.slice() });
    }
  }
  return { header, entries, end, trailer: unpack(fromHex(end.trailer, 'trailer'), end.trailerSize, 'trailer') };
}

/** Where each entry's data starts in the new archive. */
export function dataOffsets(p: ForgedPatch): number[] {
  let at = 0;
  return p.entries.map((e) => {
    const start = at + e.tarHeader.length;
    at = start + e.record.size + paddingSize(e.record.size);
    return start;
  });
}

/**
 * Encode `p`. Unless `raw`, literal entries get their size and sha256 from
 * their data, and the end record its trailer and layout digest: a patch
 * whose own digests all agree.
 */
export function encodePatch(p: ForgedPatch, raw = false): Uint8Array {
  const parts = [encodeMagic(), encodeFrame(FrameType.Header, encodeHeader(p.header))];
  const codec = new EntryCodec();
  const literals = new LiteralCodec();
  const layout = new LayoutDigest(nodeHasher);
  for (const e of p.entries) {
    if (e.data && !raw) e.record.sha256 = hashBytes(nodeHasher, e.data);
    parts.push(encodeFrame(FrameType.Entry, codec.encode(e.record, e.tarHeader)));
    if (e.data) for (let at = 0; at < e.data.length; at += 4 << 20) parts.push(encodeFrame(FrameType.Literal, literals.encode(e.data.subarray(at, at + (4 << 20)))));
    for (const f of e.frames) parts.push(encodeFrame(f.type as FrameType, f.payload));
    if (raw) continue;
    const padding = typeof e.record.padding === 'string' ? fromHex(e.record.padding, 'padding') : new Uint8Array(paddingSize(e.record.size));
    layout.entry(e.tarHeader, e.record.sha256, padding);
  }
  if (!raw) Object.assign(p.end, { trailer: toHex(pack(p.trailer)), trailerSize: p.trailer.length, layoutSha256: layout.end(p.trailer) });
  parts.push(encodeFrame(FrameType.End, encodeJson(p.end)));
  return concat(parts);
}

/** Turn entry `i` into a literal carrying `data` (e.g. a layer's bytes with one changed). */
export function asLiteral(p: ForgedPatch, i: number, data: Uint8Array): void {
  const e = p.entries[i];
  e.record = { ...e.record, kind: 'literal', blob: undefined };
  e.frames = [];
  e.data = data;
}

/**
 * Give literal entry `i` new data of any length: its tar header's size
 * field and checksum, its record and the archive size follow.
 */
export function setData(p: ForgedPatch, i: number, data: Uint8Array): void {
  const e = p.entries[i];
  const before = e.record.size + paddingSize(e.record.size);
  const h = e.tarHeader.subarray(e.tarHeader.length - 512);
  h.set(new TextEncoder().encode(data.length.toString(8).padStart(11, '0') + '\0'), 124);
  h.fill(0x20, 148, 156);
  const sum = h.reduce((n, b) => n + b, 0);
  h.set(new TextEncoder().encode(sum.toString(8).padStart(6, '0') + '\0 '), 148);
  e.record = { ...e.record, size: data.length, padding: undefined };
  e.data = data;
  p.header.new.archiveSize += data.length + paddingSize(data.length) - before;
}
