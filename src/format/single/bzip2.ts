/**
 * bzip2 decoding for the classic bsdiff formats, through seek-bzip (pure JS).
 * Input is read through a stream that throws at the end of the data (so a
 * truncated stream cannot loop or skip its CRC check); output goes byte by
 * byte to a sink, so nothing is allocated for bytes that never arrive and a
 * decompression bomb stops at the sink's cap.
 */
import Bunzip from 'seek-bzip';
import { badPatch, PatcherError } from '../../errors.js';

export interface ByteSink {
  writeByte(byte: number): void;
}

/** Decode one bzip2 stream from `input` into `sink`; `what` names the section in errors. */
export function bunzip2(input: Uint8Array, sink: ByteSink, what: string): void {
  let pos = 0;
  const stream = {
    readByte(): number {
      if (pos >= input.length) throw badPatch(`${what}: bzip2 data truncated`);
      return input[pos++];
    },
    read(buffer: Uint8Array, offset: number, length: number): number {
      for (let i = 0; i < length; i++) buffer[offset + i] = stream.readByte();
      return length;
    },
  };
  try {
    Bunzip.decode(stream, sink, false);
  } catch (err) {
    if (err instanceof PatcherError) throw err;
    const message = err instanceof Error ? err.message : String(err);
    throw badPatch(`${what}: bzip2 ${message.toLowerCase()}`);
  }
}

/**
 * Byte buffer that grows by doubling up to a hard cap: memory follows the
 * bytes that really decompressed, never a size a header merely claims.
 */
export class GrowBuffer implements ByteSink {
  #bytes: Uint8Array;
  #cap: number;
  #what: string;
  length = 0;
  constructor(cap: number, what: string) {
    this.#cap = cap;
    this.#what = what;
    this.#bytes = new Uint8Array(Math.min(cap, 64 * 1024));
  }
  writeByte(byte: number): void {
    if (this.length === this.#bytes.length) this.#grow();
    this.#bytes[this.length++] = byte;
  }
  #grow(): void {
    if (this.length >= this.#cap) throw badPatch(`${this.#what}: more data than the header allows (${this.#cap} bytes)`);
    const grown = new Uint8Array(Math.min(this.#cap, Math.max(1024, this.#bytes.length * 2)));
    grown.set(this.#bytes);
    this.#bytes = grown;
  }
  /** The bytes written so far (a view, or a trimmed copy when much is unused). */
  result(): Uint8Array {
    const view = this.#bytes.subarray(0, this.length);
    return this.#bytes.length - this.length > 1 << 20 ? view.slice() : view;
  }
}
