/**
 * Checksums for the single-file format: crc32 (crc32.ts, platform-neutral)
 * for per-section integrity, sha256 for the promise about whole outputs.
 * Node only (node:crypto); the image patch code uses crc32.ts directly.
 */
import { createHash } from 'node:crypto';

export { crc32 } from '../crc32.js';

/** sha256 of one or more byte arrays, as 32 raw bytes. */
export function sha256(...parts: Uint8Array[]): Uint8Array {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
