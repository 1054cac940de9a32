/**
 * One gzip file inside a changed layer, rebuilt through its exact form
 * (src/core: the decompressed text plus a structure stream that re-encodes
 * to the identical bits), as stored in a GZIP frame.
 *
 * The new file's bytes = gzipExact(text, structure), with
 *   text      = patch(old text, text delta)
 *   structure = patch(old structure ‖ prediction, structure delta)
 * where the old form is decoded from the twin's bytes: `old` (a range of
 * an old blob, the twin's data), and the prediction is zlib's parse of the
 * new text at level `model` (core zlibPredict, at most maxStructure
 * bytes), or nothing when `model` is 0. A stream made by GNU gzip or zlib
 * has the predicted tokens: its structure delta is then about its block
 * headers (libssl3's changelog.gz: 911 B against 17,360 B from the old
 * structure alone).
 * Layout of the payload:
 *
 *   meta section (deflated): wide blob, offset, length (the old twin's
 *     data); wide newSize, textSize, structureSize; varint model (0-9);
 *     32 bytes sha256 of the new file; varint name length, name (UTF-8,
 *     for inspect)
 *   text delta:       3 sections (ctrl, diff, extra) as in window.ts
 *   structure delta:  the same
 *
 * Memory to decode: the payload plus both inflated deltas (at most the text
 * and structure sizes, which the reader bounds before inflating).
 */
import type { Delta } from '../../core/index.js';
import { badPatch } from '../../errors.js';
import { getDelta, getSection, putDelta, putSection, type OldRange } from './window.js';
import { VarintReader, VarintWriter } from '../varint.js';

export interface GzipEntryData {
  /** The old twin's data, the stream whose exact form the deltas start from. */
  old: OldRange;
  /** Path of the file in the layer (shown by inspect). */
  name: string;
  /** Bytes of the rebuilt (compressed) file. */
  newSize: number;
  /** sha256 of the rebuilt file, 32 raw bytes. */
  sha256: Uint8Array;
  textSize: number;
  structureSize: number;
  /** zlib level whose parse of the new text extends the structure's reference; 0 for none. */
  model: number;
  text: Delta;
  structure: Delta;
}

/** Limits a reader enforces before allocating. */
export interface GzipEntryLimits {
  /** Largest old or new compressed file. */
  maxCompressed: number;
  /** Largest text. */
  maxText: number;
  /** Largest structure. */
  maxStructure: number;
}

/** Highest prediction model: zlib levels 1-9 (0 = none). */
export const MAX_MODEL = 9;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: false });

export function encodeGzipEntry(g: GzipEntryData, level = 9): Uint8Array {
  const name = encoder.encode(g.name);
  const meta = new VarintWriter(96 + name.length);
  for (const v of [g.old.blob, g.old.offset, g.old.length, g.newSize, g.textSize, g.structureSize]) meta.wide(v);
  meta.varint(g.model);
  meta.bytes(g.sha256);
  meta.varint(name.length);
  meta.bytes(name);
  const out = new VarintWriter(1024);
  putSection(out, meta.result(), level);
  putDelta(out, g.text, level);
  putDelta(out, g.structure, level);
  return out.result().slice();
}

/** What a GZIP frame says before its deltas: enough to fetch and decode the old twin. */
export type GzipEntryHead = Omit<GzipEntryData, 'text' | 'structure'>;

/** Decode and check the layout of a GZIP frame; `input` is left at its deltas. */
export function decodeGzipHead(input: VarintReader, blobs: number, limits: GzipEntryLimits): GzipEntryHead {
  const meta = new VarintReader(getSection(input, 'gzip entry layout', 64 * 1024), 'gzip entry layout');
  const old = { blob: meta.wide(), offset: meta.wide(), length: meta.wide() };
  if (old.blob >= blobs || !Number.isSafeInteger(old.offset + old.length)) throw badPatch('gzip entry names an old file out of range');
  const [newSize, textSize, structureSize] = [meta.wide(), meta.wide(), meta.wide()];
  if (old.length > limits.maxCompressed || newSize > limits.maxCompressed) throw badPatch(`gzip entry of ${Math.max(old.length, newSize)} bytes exceeds ${limits.maxCompressed}`);
  if (textSize > limits.maxText) throw badPatch(`gzip entry text of ${textSize} bytes exceeds ${limits.maxText}`);
  if (structureSize > limits.maxStructure) throw badPatch(`gzip entry structure of ${structureSize} bytes exceeds ${limits.maxStructure}`);
  const model = meta.varint();
  if (model > MAX_MODEL) throw badPatch(`gzip entry names prediction model ${model}; known are 0-${MAX_MODEL}`);
  if (meta.remaining < 33) throw badPatch('gzip entry layout truncated');
  const sha256 = meta.bytes.slice(meta.pos, meta.pos + 32);
  meta.pos += 32;
  const nameLength = meta.varint();
  if (nameLength > meta.remaining) throw badPatch('gzip entry layout truncated');
  const name = decoder.decode(meta.bytes.subarray(meta.pos, meta.pos + nameLength));
  meta.pos += nameLength;
  meta.end();
  return { old, name, newSize, sha256, textSize, structureSize, model };
}

/** The text delta after the layout, checked against the old text's size. */
export function decodeGzipText(input: VarintReader, head: GzipEntryHead, oldText: number): Delta {
  return getDelta(input, 'gzip entry text', oldText, head.textSize);
}

/** The structure delta after the text's, checked against its reference's size; the frame must end there. */
export function decodeGzipStructure(input: VarintReader, head: GzipEntryHead, structureReference: number): Delta {
  const structure = getDelta(input, 'gzip entry structure', structureReference, head.structureSize);
  input.end();
  return structure;
}

/** The limits apply holds a GZIP frame to, from the patch's window size (create stays inside them). */
export function gzipEntryLimits(windowSize: number): GzipEntryLimits {
  return { maxCompressed: windowSize, maxText: 4 * windowSize, maxStructure: 2 * windowSize + 4096 };
}

/** The name and size of a GZIP frame's file, without its deltas (inspect). */
export function peekGzipEntry(payload: Uint8Array): { name: string; newSize: number } {
  const unbounded = { maxCompressed: Number.MAX_SAFE_INTEGER, maxText: Number.MAX_SAFE_INTEGER, maxStructure: Number.MAX_SAFE_INTEGER };
  const head = decodeGzipHead(new VarintReader(payload, 'gzip entry'), Number.MAX_SAFE_INTEGER, unbounded);
  return { name: head.name, newSize: head.newSize };
}
