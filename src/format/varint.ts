/**
 * LEB128 varints (unsigned, up to 2^32-1) for the compact section encodings.
 * Readers throw BAD_PATCH on truncation or overlong numbers.
 */
import { badPatch } from '../errors.js';

/** Growable byte buffer with a varint writer. */
export class VarintWriter {
  #bytes: Uint8Array;
  length = 0;
  constructor(capacity = 1024) {
    this.#bytes = new Uint8Array(Math.max(16, capacity));
  }
  #reserve(n: number): void {
    if (this.length + n <= this.#bytes.length) return;
    const grown = new Uint8Array(Math.max(this.#bytes.length * 2, this.length + n));
    grown.set(this.#bytes.subarray(0, this.length));
    this.#bytes = grown;
  }
  varint(value: number): void {
    this.#reserve(5);
    let v = value >>> 0;
    while (v >= 0x80) {
      this.#bytes[this.length++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.#bytes[this.length++] = v;
  }
  /** LEB128 up to 2^53 (offsets in layers past 4 GiB); the same bytes as varint() below 2^32. */
  wide(value: number): void {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`varint out of range: ${value}`);
    this.#reserve(8);
    let v = value;
    while (v >= 0x80) {
      this.#bytes[this.length++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.#bytes[this.length++] = v;
  }
  bytes(data: Uint8Array): void {
    this.#reserve(data.length);
    this.#bytes.set(data, this.length);
    this.length += data.length;
  }
  result(): Uint8Array {
    return this.#bytes.subarray(0, this.length);
  }
}

/** Sequential reader over `bytes`; `what` names the section in errors. */
export class VarintReader {
  pos = 0;
  constructor(
    readonly bytes: Uint8Array,
    readonly what: string,
  ) {}
  get remaining(): number {
    return this.bytes.length - this.pos;
  }
  varint(): number {
    return this.#read(35, 0xffffffff);
  }
  /** A varint written by VarintWriter.wide (up to 2^53). */
  wide(): number {
    return this.#read(56, Number.MAX_SAFE_INTEGER);
  }
  #read(maxShift: number, max: number): number {
    let value = 0;
    for (let shift = 0; shift < maxShift; shift += 7) {
      if (this.pos >= this.bytes.length) throw badPatch(`${this.what} ends inside a number`);
      const b = this.bytes[this.pos++];
      value += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) {
        if (value > max) break;
        return value;
      }
    }
    throw badPatch(`${this.what} holds an oversized number`);
  }
  /** Throws unless every byte was consumed. */
  end(): void {
    if (this.pos !== this.bytes.length) throw badPatch(`${this.what} has ${this.remaining} trailing bytes`);
  }
}
