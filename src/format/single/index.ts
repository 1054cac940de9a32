/**
 * One entry point for single-file patches: our raw format or either classic
 * bsdiff format, told apart by magic.
 */
import type { CodeFilters, Delta } from '../../core/index.js';
import { decodeClassicPatch, type ClassicFormat } from './classic.js';
import { decodeRawPatch, isRawPatch } from './raw.js';

export interface SingleFilePatch {
  format: 'raw' | ClassicFormat;
  newSize: number;
  delta: Delta;
  /** Raw format only: what OLD must be. */
  oldSize?: number;
  oldSha256?: Uint8Array;
  /** Raw format only: the digest NEW must have. Classic formats promise no digest. */
  newSha256?: Uint8Array;
  /** Raw format only: code ranges the delta was made with (filter OLD, restore the output). */
  code?: CodeFilters;
}

export interface SingleFileDecodeOptions {
  /** Largest old/new size accepted, in bytes (default 2 GiB). */
  maxSize?: number;
}

/** Decode any supported single-file patch; unknown magic is BAD_PATCH. */
export function decodeSingleFilePatch(bytes: Uint8Array, options: SingleFileDecodeOptions = {}): SingleFilePatch {
  if (isRawPatch(bytes)) return { format: 'raw', ...decodeRawPatch(bytes, options) };
  return decodeClassicPatch(bytes, options);
}
