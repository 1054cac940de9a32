/**
 * One 512-byte tar header block: checksum, numeric fields (octal and GNU
 * base-256), strings, PAX records; and the project's one tar writer: ustar
 * headers as Go's archive/tar (so Docker) writes them, with a PAX 'x' header
 * in front when a name does not fit. Pure functions over Uint8Array.
 * Memory: none beyond the block and the decoded strings.
 */

import { badImage } from '../errors.js';

export const BLOCK = 512;

/** Raw fields of one header block (no PAX/GNU resolution yet). */
export interface RawHeader {
  name: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  typeflag: string;
  linkname: string;
  magic: 'ustar' | 'gnu' | 'v7';
  prefix: string;
}

const utf8 = new TextDecoder('utf-8');
const encoder = new TextEncoder();

/** Bytes up to the first NUL (or the whole field), as UTF-8. */
export function readString(block: Uint8Array, start: number, length: number): string {
  let end = start;
  while (end < start + length && block[end] !== 0) end++;
  return utf8.decode(block.subarray(start, end));
}

/**
 * A numeric field: octal digits (spaces/NULs around them allowed) or GNU
 * base-256 (first byte 0x80). Returns NaN when the field is malformed.
 */
export function readNumber(block: Uint8Array, start: number, length: number): number {
  if (block[start] === 0x80) {
    let value = 0;
    for (let i = start + 1; i < start + length; i++) value = value * 256 + block[i];
    return Number.isSafeInteger(value) ? value : NaN;
  }
  if (block[start] & 0x80) return NaN; // negative base-256: never valid here
  let i = start;
  const end = start + length;
  while (i < end && block[i] === 0x20) i++;
  let value = 0;
  let digits = 0;
  for (; i < end && block[i] >= 0x30 && block[i] <= 0x37; i++, digits++) value = value * 8 + (block[i] - 0x30);
  for (; i < end; i++) if (block[i] !== 0 && block[i] !== 0x20) return NaN;
  return digits === 0 ? 0 : value;
}

/** Unsigned sum of the block with the checksum field read as spaces. */
export function checksumOf(block: Uint8Array): number {
  let sum = 8 * 0x20;
  for (let i = 0; i < BLOCK; i++) if (i < 148 || i >= 156) sum += block[i];
  return sum;
}

/** Signed variant (some old tars summed signed chars). */
function signedChecksumOf(block: Uint8Array): number {
  let sum = 8 * 0x20;
  for (let i = 0; i < BLOCK; i++) if (i < 148 || i >= 156) sum += (block[i] << 24) >> 24;
  return sum;
}

export function isZeroBlock(block: Uint8Array): boolean {
  for (let i = 0; i < block.length; i++) if (block[i] !== 0) return false;
  return true;
}

/** True if the block's stored checksum matches its contents. */
export function checksumOk(block: Uint8Array): boolean {
  const stored = readNumber(block, 148, 8);
  return stored === checksumOf(block) || stored === signedChecksumOf(block);
}

function magicOf(block: Uint8Array): RawHeader['magic'] | null {
  const m = String.fromCharCode(...block.subarray(257, 262));
  if (m === 'ustar') return block[262] === 0 ? 'ustar' : block[262] === 0x20 ? 'gnu' : null;
  return isZeroBlock(block.subarray(257, 265)) ? 'v7' : null;
}

/**
 * Parse one header block found at `offset`. Throws badImage with `what`
 * ('not a tar archive' for the first block, else 'bad tar header').
 */
export function parseHeader(block: Uint8Array, offset: number, first: boolean): RawHeader {
  const fail = (why: string) =>
    badImage(first ? `not a tar archive: ${why}` : `bad tar header at offset ${offset}: ${why}`);
  if (!checksumOk(block)) throw fail('header checksum mismatch');
  const magic = magicOf(block);
  if (magic === null) throw fail('unknown header magic');
  const header: RawHeader = {
    name: readString(block, 0, 100),
    mode: readNumber(block, 100, 8),
    uid: readNumber(block, 108, 8),
    gid: readNumber(block, 116, 8),
    size: readNumber(block, 124, 12),
    mtime: readNumber(block, 136, 12),
    typeflag: block[156] === 0 ? '0' : String.fromCharCode(block[156]),
    linkname: readString(block, 157, 100),
    magic,
    prefix: magic === 'ustar' ? readString(block, 345, 155) : '',
  };
  if (Number.isNaN(header.size)) throw fail('bad size field');
  return header;
}

/**
 * Parse PAX extended header records ("<len> <key>=<value>\n"). Throws
 * badImage on a malformed record.
 */
export function parsePax(data: Uint8Array, offset: number): Map<string, string> {
  const records = new Map<string, string>();
  let pos = 0;
  while (pos < data.length && data[pos] !== 0) {
    let space = pos;
    while (space < data.length && data[space] !== 0x20) space++;
    const len = Number(utf8.decode(data.subarray(pos, space)));
    if (!Number.isInteger(len) || len <= space - pos || pos + len > data.length || data[pos + len - 1] !== 0x0a) {
      throw badImage(`bad PAX header at offset ${offset}: malformed record`);
    }
    const record = utf8.decode(data.subarray(space + 1, pos + len - 1));
    const eq = record.indexOf('=');
    if (eq <= 0) throw badImage(`bad PAX header at offset ${offset}: record without key`);
    records.set(record.slice(0, eq), record.slice(eq + 1));
    pos += len;
  }
  return records;
}

/** Fields for encodeUstarHeader; strings must fit ustar (name <= 100 bytes, or split with prefix). */
export interface UstarFields {
  name: string;
  typeflag: string;
  size?: number;
  mode?: number;
  mtime?: number;
  uid?: number;
  gid?: number;
  uname?: string;
  gname?: string;
  linkname?: string;
}

function writeOctal(block: Uint8Array, start: number, length: number, value: number): void {
  const digits = value.toString(8).padStart(length - 1, '0');
  if (digits.length > length - 1) throw new RangeError(`tar field overflow: ${value}`);
  block.set(encoder.encode(digits), start); // the last byte stays NUL
}

function writeString(block: Uint8Array, start: number, length: number, value: string): void {
  const bytes = encoder.encode(value);
  if (bytes.length > length) throw new RangeError(`tar field too long: ${value}`);
  block.set(bytes, start);
}

/**
 * Encode one ustar header block the way Go's archive/tar does for short
 * names: octal fields zero-padded with a trailing NUL, magic "ustar\0" "00",
 * checksum as 6 octal digits, NUL, space.
 */
export function encodeUstarHeader(f: UstarFields): Uint8Array {
  const block = new Uint8Array(BLOCK);
  const split = splitUstarName(f.name);
  if (!split) throw new RangeError(`tar name does not fit ustar: ${f.name}`);
  writeString(block, 0, 100, split.name);
  writeOctal(block, 100, 8, f.mode ?? 0o644);
  writeOctal(block, 108, 8, f.uid ?? 0);
  writeOctal(block, 116, 8, f.gid ?? 0);
  writeOctal(block, 124, 12, f.size ?? 0);
  writeOctal(block, 136, 12, f.mtime ?? 0);
  block[156] = f.typeflag.charCodeAt(0);
  writeString(block, 157, 100, f.linkname ?? '');
  writeString(block, 257, 8, 'ustar\u000000');
  writeString(block, 265, 32, f.uname ?? '');
  writeString(block, 297, 32, f.gname ?? '');
  writeOctal(block, 329, 8, 0);
  writeOctal(block, 337, 8, 0);
  writeString(block, 345, 155, split.prefix);
  const sum = checksumOf(block).toString(8).padStart(6, '0');
  writeString(block, 148, 8, sum + '\u0000 ');
  return block;
}

/** `name` as ustar's name (<= 100 bytes) and prefix (<= 155 bytes) fields, or undefined if it cannot be split so. */
export function splitUstarName(name: string): { name: string; prefix: string } | undefined {
  const size = (s: string) => encoder.encode(s).length;
  if (size(name) <= 100) return { name, prefix: '' };
  // As Go's archive/tar: the longest prefix (<= 155 bytes) that ends at a '/'
  // (dropped); a directory's trailing '/' stays in the name.
  let best = -1;
  for (let cut = name.indexOf('/'); cut > 0 && cut < name.length - 1 && size(name.slice(0, cut)) <= 155; cut = name.indexOf('/', cut + 1)) best = cut;
  if (best < 0 || size(name.slice(best + 1)) > 100) return undefined;
  return { name: name.slice(best + 1), prefix: name.slice(0, best) };
}

/** One PAX record, "<len> <key>=<value>\n", where len counts its own digits. */
function paxRecord(key: string, value: string): string {
  const rest = encoder.encode(` ${key}=${value}\n`).length;
  let len = rest + String(rest).length;
  if (String(len).length !== String(rest).length) len = rest + String(len).length;
  return `${len} ${key}=${value}\n`;
}

/**
 * The header bytes of one entry: a plain ustar block, or, when the name or
 * link target does not fit ustar, a PAX 'x' block with path/linkpath, its
 * padded records, then the ustar block with the names cut short (what
 * readers that know PAX ignore).
 */
export function encodeEntryHeader(f: UstarFields): Uint8Array {
  const longName = !splitUstarName(f.name);
  const longLink = encoder.encode(f.linkname ?? '').length > 100;
  if (!longName && !longLink) return encodeUstarHeader(f);
  const records = encoder.encode((longName ? paxRecord('path', f.name) : '') + (longLink ? paxRecord('linkpath', f.linkname!) : ''));
  const cut = (s: string) => s.slice(0, 100).replace(/[\u0080-\uffff]/g, '_');
  const base = f.name.replace(/\/$/, '').split('/').pop()!;
  const pax = encodeUstarHeader({ name: cut(`PaxHeader/${base}`), typeflag: 'x', size: records.length, mode: 0o644, mtime: f.mtime });
  const main = encodeUstarHeader({ ...f, name: longName ? cut(f.name) : f.name, linkname: longLink ? cut(f.linkname!) : f.linkname });
  const out = new Uint8Array(2 * BLOCK + records.length + paddingSize(records.length));
  out.set(pax, 0);
  out.set(records, BLOCK);
  out.set(main, out.length - BLOCK);
  return out;
}

/** Bytes of zero padding after `size` bytes of data. */
export function paddingSize(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}
