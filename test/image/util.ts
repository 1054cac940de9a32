/** Helpers for the image tests: chunked feeding and byte-exact rebuilding. */

import { paddingSize } from '../../src/image/tar-header.js';
import { readTar, type TarEnd, type TarEntry } from '../../src/image/tar.js';

/** Yield `bytes` in slices of `size` (the last may be shorter). */
export async function* chunked(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}

export async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const c of chunks) parts.push(c.slice());
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (out.set(p, at), at + p.length), 0);
  return out;
}

/** The bytes an entry occupies after its data: recorded padding or zeros. */
export function paddingOf(e: { size: number; padding?: Uint8Array }): Uint8Array {
  return e.padding ?? new Uint8Array(paddingSize(e.size));
}

/**
 * Read a tar stream, feeding header + data + padding of every entry and
 * then the trailer to `sink`. Returns the entries (without data) and the end.
 */
export async function rebuildTar(
  chunks: AsyncIterable<Uint8Array>,
  sink: (bytes: Uint8Array) => void,
): Promise<{ entries: Omit<TarEntry, 'data'>[]; end: TarEnd }> {
  const reader = readTar(chunks);
  const entries: Omit<TarEntry, 'data'>[] = [];
  for await (const entry of reader) {
    sink(entry.header);
    for await (const d of entry.data) sink(d);
    sink(paddingOf(entry));
    const { data: _data, ...info } = entry;
    entries.push(info);
  }
  sink(reader.end!.trailer);
  return { entries, end: reader.end! };
}

/** rebuildTar into one buffer. */
export async function rebuildTarBytes(chunks: AsyncIterable<Uint8Array>) {
  const parts: Uint8Array[] = [];
  const result = await rebuildTar(chunks, (b) => parts.push(b.slice()));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (out.set(p, at), at + p.length), 0);
  return { ...result, bytes: out };
}
