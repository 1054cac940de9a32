/**
 * Two inputs for the tar parser with one interface: StreamInput pulls chunks
 * from an async iterable (no seeking; skip reads and drops), SourceInput
 * reads a ByteSource at positions (skip is free). Both throw
 * badImage('truncated tar archive: ...') when the input ends inside a
 * structure. Memory: StreamInput holds one input chunk (and a copy when a
 * read spans chunks); SourceInput holds nothing.
 */

import { badImage } from '../errors.js';
import type { ByteSource } from './source.js';

export interface BlockInput {
  /** Bytes consumed so far (= offset in the archive). */
  readonly pos: number;
  /**
   * Exactly n bytes, or null if the input ends exactly here. A partial block
   * is 'not a tar archive' when `first`, else 'truncated'.
   */
  readBlock(n: number, first: boolean): Promise<Uint8Array | null>;
  /** Exactly n bytes (may be a view: copy to keep). */
  readExact(n: number, what: string): Promise<Uint8Array>;
  /** Between 1 and n bytes (n > 0), as a view of the input. */
  readUpTo(n: number, what: string): Promise<Uint8Array>;
  skip(n: number, what: string): Promise<void>;
  /** Everything left, at most `max` bytes (more is an error). */
  rest(max: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

function truncated(what: string, pos: number, missing: number): Error {
  return badImage(`truncated tar archive: ${what} at offset ${pos} is missing ${missing} bytes`);
}

function tooMuchTrailer(pos: number, max: number): Error {
  return badImage(`bad tar archive: more than ${max} bytes after the end-of-archive block at ${pos}`);
}

/** Pull-based input over async chunks. */
export class StreamInput implements BlockInput {
  pos = 0;
  #iterator: AsyncIterator<Uint8Array>;
  #chunk: Uint8Array = new Uint8Array(0);
  #at = 0;
  #done = false;

  constructor(chunks: AsyncIterable<Uint8Array>) {
    this.#iterator = chunks[Symbol.asyncIterator]();
  }

  /** Make sure the current chunk has bytes left; false at end of input. */
  async #fill(): Promise<boolean> {
    while (this.#at >= this.#chunk.length) {
      if (this.#done) return false;
      const next = await this.#iterator.next();
      if (next.done) {
        this.#done = true;
        return false;
      }
      this.#chunk = next.value;
      this.#at = 0;
    }
    return true;
  }

  /** Up to n bytes as a view; empty only at end of input. */
  async #take(n: number): Promise<Uint8Array> {
    if (!(await this.#fill())) return new Uint8Array(0);
    const view = this.#chunk.subarray(this.#at, this.#at + n);
    this.#at += view.length;
    this.pos += view.length;
    return view;
  }

  /** Up to n bytes, gathering across chunks; shorter only at end of input. */
  async #gather(n: number): Promise<Uint8Array> {
    const first = await this.#take(n);
    if (first.length === n || first.length === 0) return first;
    const out = new Uint8Array(n);
    out.set(first);
    let got = first.length;
    while (got < n) {
      const part = await this.#take(n - got);
      if (part.length === 0) return out.subarray(0, got);
      out.set(part, got);
      got += part.length;
    }
    return out;
  }

  async readBlock(n: number, first: boolean): Promise<Uint8Array | null> {
    const start = this.pos;
    const block = await this.#gather(n);
    if (block.length === n) return block;
    if (block.length === 0) return null;
    if (first) throw badImage(`not a tar archive: only ${block.length} bytes`);
    throw truncated('header', start, n - block.length);
  }

  async readExact(n: number, what: string): Promise<Uint8Array> {
    const start = this.pos;
    const bytes = await this.#gather(n);
    if (bytes.length < n) throw truncated(what, start, n - bytes.length);
    return bytes;
  }

  async readUpTo(n: number, what: string): Promise<Uint8Array> {
    const bytes = await this.#take(n);
    if (bytes.length === 0) throw truncated(what, this.pos, n);
    return bytes;
  }

  async skip(n: number, what: string): Promise<void> {
    for (let left = n; left > 0; ) {
      const start = this.pos;
      const part = await this.#take(left);
      if (part.length === 0) throw truncated(what, start, left);
      left -= part.length;
    }
  }

  async rest(max: number): Promise<Uint8Array> {
    const start = this.pos;
    const parts: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const part = await this.#take(max + 1 - total);
      if (part.length === 0) break;
      parts.push(part.slice());
      total += part.length;
      if (total > max) throw tooMuchTrailer(start, max);
    }
    const out = new Uint8Array(total);
    parts.reduce((at, p) => (out.set(p, at), at + p.length), 0);
    return out;
  }

  async close(): Promise<void> {
    if (!this.#done) {
      this.#done = true;
      await this.#iterator.return?.();
    }
  }
}

/** Bytes read ahead: headers of small files sit close together, so most land in one read. */
const READ_AHEAD = 16 * 1024;

/** Positional input over a ByteSource, with a small read-ahead buffer. */
export class SourceInput implements BlockInput {
  pos = 0;
  #source: ByteSource;
  #buffer: Uint8Array = new Uint8Array(0);
  #bufferAt = 0;

  constructor(source: ByteSource) {
    this.#source = source;
  }

  /** Bytes [at, at+n) from the buffer, refilling it when they are not all there. */
  async #read(at: number, n: number): Promise<Uint8Array> {
    if (at < this.#bufferAt || at + n > this.#bufferAt + this.#buffer.length) {
      if (n >= READ_AHEAD) return this.#source.read(at, n);
      this.#buffer = await this.#source.read(at, Math.min(READ_AHEAD, this.#source.size - at));
      this.#bufferAt = at;
    }
    // A copy: callers keep header bytes, and must not pin the whole buffer.
    return this.#buffer.slice(at - this.#bufferAt, at - this.#bufferAt + n);
  }

  #left(): number {
    return this.#source.size - this.pos;
  }

  async readBlock(n: number, first: boolean): Promise<Uint8Array | null> {
    const left = this.#left();
    if (left === 0) return null;
    if (left < n) {
      if (first) throw badImage(`not a tar archive: only ${left} bytes`);
      throw truncated('header', this.pos, n - left);
    }
    return this.readExact(n, 'header');
  }

  async readExact(n: number, what: string): Promise<Uint8Array> {
    if (this.#left() < n) throw truncated(what, this.pos, n - this.#left());
    const bytes = await this.#read(this.pos, n);
    this.pos += n;
    return bytes;
  }

  async readUpTo(n: number, what: string): Promise<Uint8Array> {
    return this.readExact(Math.min(n, Math.max(this.#left(), 1)), what);
  }

  async skip(n: number, what: string): Promise<void> {
    if (this.#left() < n) throw truncated(what, this.pos, n - this.#left());
    this.pos += n;
  }

  async rest(max: number): Promise<Uint8Array> {
    const left = this.#left();
    if (left > max) throw tooMuchTrailer(this.pos, max);
    return this.readExact(left, 'trailer');
  }

  async close(): Promise<void> {}
}
