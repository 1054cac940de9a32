/**
 * A raw tar reader that keeps every header byte, so an archive can be
 * rebuilt byte for byte: header + data + padding (zeros, or `padding` when
 * not zero) of each entry, then the trailer, equals the input.
 *
 * - readTar(chunks): pull-based stream reader. Yields one TarEntry at a time;
 *   its `data` streams the entry's bytes as views of the input chunks. The
 *   consumer drains `data` (or leaves it) before asking for the next entry;
 *   what it leaves is skipped. After the loop, `reader.end` holds the
 *   trailer (end-of-archive blocks and anything after).
 * - indexTar(source): the same parse over a ByteSource, seeking past data.
 *
 * Memory: one input chunk plus the current entry's header blocks (PAX/GNU
 * metadata capped at 1 MiB); the trailer is kept (capped at 4 MiB). indexTar
 * keeps a TarEntryInfo (with header bytes) per entry.
 */

import { concatBytes } from '../format/bytes.js';
import { badImage } from '../errors.js';
import type { ByteSource } from './source.js';
import { BLOCK, isZeroBlock, paddingSize, parseHeader, parsePax, type RawHeader } from './tar-header.js';
import { BlockInput, SourceInput, StreamInput } from './tar-input.js';

export type TarEntryType = 'file' | 'link' | 'symlink' | 'directory' | 'other';

/** One entry without its data; offsets are from the start of the archive. */
export interface TarEntryInfo {
  /** All header blocks of this entry as read: PAX 'x'/'g', GNU 'L'/'K' blocks with their data, then the entry header. */
  header: Uint8Array;
  /** Resolved name: PAX path, else GNU long name, else ustar prefix + '/' + name. */
  name: string;
  /** Resolved link target: PAX linkpath, else GNU long link, else the header field. */
  linkname: string;
  type: TarEntryType;
  /** The raw type flag character ('0' for a NUL flag). */
  typeflag: string;
  /** Bytes of data that follow the header (0 for links, symlinks, directories, devices, fifos). */
  size: number;
  mode: number;
  /** Seconds since the epoch (PAX mtime may be fractional). */
  mtime: number;
  headerOffset: number;
  dataOffset: number;
  /** The padding after the data, only when it is not all zero. In readTar, set once the data is drained or skipped. */
  padding?: Uint8Array;
}

export interface TarEntry extends TarEntryInfo {
  /** The data, once. Read it before asking for the next entry. */
  data: AsyncIterable<Uint8Array>;
}

/** Where the entries end: the end-of-archive zero blocks and anything after them. */
export interface TarEnd {
  offset: number;
  trailer: Uint8Array;
}

export interface TarReader extends AsyncIterable<TarEntry> {
  /** Set when iteration completes (not when it is abandoned early). */
  readonly end: TarEnd | undefined;
}

export interface TarIndex {
  entries: TarEntryInfo[];
  end: TarEnd;
}

const MAX_META = 1024 * 1024;
const MAX_TRAILER = 4 * 1024 * 1024;
/** Type flags whose entries carry no data whatever the size field says (as Go's archive/tar). */
const HEADER_ONLY = new Set(['1', '2', '3', '4', '5', '6']);

function entryType(flag: string): TarEntryType {
  if (flag === '0' || flag === '7') return 'file';
  if (flag === '1') return 'link';
  if (flag === '2') return 'symlink';
  if (flag === '5') return 'directory';
  return 'other';
}

/** Metadata gathered from PAX and GNU blocks for the entry that follows them. */
interface Pending {
  pax: Map<string, string>;
  longName?: string;
  longLink?: string;
}

/** Read the data of a metadata block ('x', 'g', 'L', 'K') and record it. */
async function readMeta(input: BlockInput, raw: RawHeader, pending: Pending, offset: number): Promise<Uint8Array> {
  if (raw.size > MAX_META) throw badImage(`bad tar header at offset ${offset}: ${raw.size}-byte metadata entry`);
  const data = await input.readExact(raw.size + paddingSize(raw.size), 'metadata');
  const body = data.subarray(0, raw.size);
  if (raw.typeflag === 'x') for (const [k, v] of parsePax(body, offset)) pending.pax.set(k, v);
  else if (raw.typeflag === 'L' || raw.typeflag === 'K') {
    let end = body.indexOf(0);
    if (end < 0) end = body.length;
    const text = new TextDecoder().decode(body.subarray(0, end));
    if (raw.typeflag === 'L') pending.longName = text;
    else pending.longLink = text;
  }
  return data;
}

/** Turn the final header plus pending metadata into an entry description. */
function resolveEntry(raw: RawHeader, pending: Pending, header: Uint8Array, headerOffset: number, dataOffset: number): TarEntryInfo {
  const pax = pending.pax;
  const paxSize = pax.has('size') ? Number(pax.get('size')) : raw.size;
  if (!Number.isSafeInteger(paxSize) || paxSize < 0) throw badImage(`bad tar header at offset ${headerOffset}: bad PAX size`);
  const name = pax.get('path') ?? pending.longName ?? (raw.prefix ? `${raw.prefix}/${raw.name}` : raw.name);
  const mtime = pax.has('mtime') ? Number(pax.get('mtime')) : raw.mtime;
  return {
    header,
    name,
    linkname: pax.get('linkpath') ?? pending.longLink ?? raw.linkname,
    type: entryType(raw.typeflag),
    typeflag: raw.typeflag,
    size: HEADER_ONLY.has(raw.typeflag) ? 0 : paxSize,
    mode: raw.mode,
    mtime: Number.isFinite(mtime) ? mtime : raw.mtime,
    headerOffset,
    dataOffset,
  };
}

/**
 * Read the header blocks of the next entry (metadata blocks included), or
 * the trailer if the archive ends here.
 */
async function readHeaderGroup(input: BlockInput, first: boolean): Promise<TarEntryInfo | TarEnd> {
  const start = input.pos;
  const parts: Uint8Array[] = [];
  const pending: Pending = { pax: new Map() };
  for (;;) {
    const offset = input.pos;
    const block = await input.readBlock(BLOCK, first && parts.length === 0);
    if (block === null || isZeroBlock(block)) {
      if (parts.length > 0) throw badImage(`truncated tar archive: metadata at offset ${start} has no entry after it`);
      if (block === null && first) throw badImage('not a tar archive: empty input');
      const rest = block === null ? new Uint8Array(0) : await input.rest(MAX_TRAILER - BLOCK);
      return { offset: start, trailer: block === null ? rest : concatBytes([block, rest]) };
    }
    const raw = parseHeader(block, offset, first && parts.length === 0);
    parts.push(block.slice());
    if ('xgLK'.includes(raw.typeflag)) {
      parts.push((await readMeta(input, raw, pending, offset)).slice());
      continue;
    }
    return resolveEntry(raw, pending, concatBytes(parts), start, input.pos);
  }
}

/** Read the padding after an entry's data; record it on the entry if not zero. */
async function readPadding(input: BlockInput, entry: TarEntryInfo): Promise<void> {
  const n = paddingSize(entry.size);
  if (n === 0) return;
  const pad = await input.readExact(n, `padding of ${entry.name}`);
  if (!isZeroBlock(pad)) entry.padding = pad.slice();
}

/** Stream a tar archive entry by entry. See the module comment for the contract. */
export function readTar(chunks: AsyncIterable<Uint8Array>): TarReader {
  const reader = {
    end: undefined as TarEnd | undefined,
    [Symbol.asyncIterator]: () => iterate(),
  };
  async function* iterate(): AsyncGenerator<TarEntry> {
    const input = new StreamInput(chunks);
    try {
      for (let first = true; ; first = false) {
        const next = await readHeaderGroup(input, first);
        if (!('name' in next)) {
          reader.end = next;
          return;
        }
        yield* streamEntry(input, next);
      }
    } finally {
      await input.close();
    }
  }
  return reader;
}

/** Yield one entry whose data reads from `input`; on resume, skip what is left. */
async function* streamEntry(input: BlockInput, info: TarEntryInfo): AsyncGenerator<TarEntry> {
  const entry = info as TarEntry;
  let remaining = info.size;
  let state: 'unread' | 'reading' | 'done' = 'unread';
  let padded = false;
  const finish = async () => {
    if (remaining > 0) await input.skip(remaining, `data of ${info.name}`);
    remaining = 0;
    if (!padded) await readPadding(input, entry);
    padded = true;
  };
  async function* data(): AsyncGenerator<Uint8Array> {
    if (state !== 'unread') throw badImage(`tar entry ${info.name}: data read twice or after the next entry`);
    state = 'reading';
    while (remaining > 0 && state === 'reading') {
      const chunk = await input.readUpTo(remaining, `data of ${info.name}`);
      remaining -= chunk.length;
      yield chunk;
    }
    if (state === 'reading') await finish();
  }
  entry.data = { [Symbol.asyncIterator]: data };
  yield entry;
  state = 'done';
  await finish();
}

/** Index a tar archive held in a ByteSource, seeking past the data of each entry. */
export async function indexTar(source: ByteSource): Promise<TarIndex> {
  const input = new SourceInput(source);
  const entries: TarEntryInfo[] = [];
  for (let first = true; ; first = false) {
    const next = await readHeaderGroup(input, first);
    if (!('name' in next)) return { entries, end: next };
    await input.skip(next.size, `data of ${next.name}`);
    await readPadding(input, next);
    entries.push(next);
  }
}
