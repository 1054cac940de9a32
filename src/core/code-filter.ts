/**
 * Where machine code is, for the core's branch filter (assembly/codefilter.ts):
 * ranges of a buffer with the instruction set and the file offset of their
 * first byte, and how to find them in an ELF file's section headers.
 *
 * Before a diff, calls and data references in both versions of an
 * executable are rewritten from relative to absolute targets, so code that
 * moved still matches; apply rewrites the reference the same way and
 * restores the output. The ranges travel in the patch (window.ts), so apply
 * never parses an ELF file. I/O-free: callers read the bytes.
 */
import { badPatch } from '../errors.js';

export const CodeKind = { X86_64: 1, ARM64: 2 } as const;
export type CodeKind = (typeof CodeKind)[keyof typeof CodeKind];

/** A range of code in a buffer: [start, start + length), whose first byte is at `fileOffset` in its file. */
export interface CodeRange {
  start: number;
  length: number;
  kind: CodeKind;
  fileOffset: number;
}

/** Code ranges of both sides of a diff: the reference (old) and the target (new) / output. */
export interface CodeFilters {
  reference: CodeRange[];
  target: CodeRange[];
}

/** Ranges must be sorted and disjoint (each byte filtered once) and inside a buffer of `size` bytes. */
export function checkCodeRanges(ranges: readonly CodeRange[], size: number, what: string): void {
  let end = 0;
  for (const r of ranges) {
    const ok = Number.isSafeInteger(r.start) && Number.isSafeInteger(r.length) && Number.isSafeInteger(r.fileOffset) &&
      r.start >= end && r.length >= 0 && r.fileOffset >= 0 && r.start + r.length <= size &&
      (r.kind === CodeKind.X86_64 || r.kind === CodeKind.ARM64);
    if (!ok) throw badPatch(`${what} code range ${r.start}+${r.length} (kind ${r.kind}) is out of order or out of bounds (${size} bytes)`);
    end = r.start + r.length;
  }
}

/** What an ELF file's code filter needs from its first bytes: where the section headers are. */
export interface ElfHead {
  kind: CodeKind;
  /** File offset and byte length of the section header table. */
  tableOffset: number;
  tableLength: number;
  entrySize: number;
}

const ELF_HEADER_SIZE = 64;
const EM_X86_64 = 62;
const EM_AARCH64 = 183;
const SHF_EXECINSTR = 4n;
const SHT_NOBITS = 8;
/** Most sections read (65,280 is ELF's limit before extended numbering, which we leave alone). */
const MAX_SECTIONS = 0xff00;

/** Bytes an ElfHead needs: the ELF header. */
export const ELF_HEAD_BYTES = ELF_HEADER_SIZE;

/**
 * The section header table of a 64-bit little-endian x86-64 or AArch64 ELF
 * file whose first bytes are `head` and whose size is `fileSize`, or null
 * for anything else (other machines, 32-bit, big-endian, a table that does
 * not fit the file: those are diffed as plain bytes).
 */
export function elfHead(head: Uint8Array, fileSize: number): ElfHead | null {
  if (head.length < ELF_HEADER_SIZE || head[0] !== 0x7f || head[1] !== 0x45 || head[2] !== 0x4c || head[3] !== 0x46) return null;
  if (head[4] !== 2 || head[5] !== 1) return null; // ELFCLASS64, ELFDATA2LSB
  const v = new DataView(head.buffer, head.byteOffset, ELF_HEADER_SIZE);
  const machine = v.getUint16(18, true);
  const kind = machine === EM_X86_64 ? CodeKind.X86_64 : machine === EM_AARCH64 ? CodeKind.ARM64 : 0;
  if (kind === 0) return null;
  const tableOffset = v.getBigUint64(40, true);
  const entrySize = v.getUint16(58, true);
  const count = v.getUint16(60, true);
  if (entrySize < 64 || count === 0 || count > MAX_SECTIONS) return null;
  if (tableOffset < BigInt(ELF_HEADER_SIZE) || tableOffset + BigInt(count * entrySize) > BigInt(fileSize)) return null;
  return { kind, tableOffset: Number(tableOffset), tableLength: count * entrySize, entrySize };
}

/**
 * File ranges of the executable sections listed in `table` (the bytes
 * ElfHead names), sorted and disjoint, never covering the ELF header or the
 * section header table. fileOffset = start: the ranges are in file
 * coordinates.
 */
export function elfCodeRanges(head: ElfHead, table: Uint8Array, fileSize: number): CodeRange[] {
  const v = new DataView(table.buffer, table.byteOffset, table.byteLength);
  const found: Array<[number, number]> = [];
  const tableEnd = head.tableOffset + head.tableLength;
  for (let h = 0; h + 64 <= table.length && h < head.tableLength; h += head.entrySize) {
    const type = v.getUint32(h + 4, true);
    const flags = v.getBigUint64(h + 8, true);
    const offset = v.getBigUint64(h + 24, true);
    const size = v.getBigUint64(h + 32, true);
    if (type === SHT_NOBITS || (flags & SHF_EXECINSTR) === 0n || size === 0n || offset >= BigInt(fileSize)) continue;
    const start = Math.max(Number(offset), ELF_HEADER_SIZE);
    const end = Number(offset + size > BigInt(fileSize) ? BigInt(fileSize) : offset + size);
    if (end <= start || (start < tableEnd && end > head.tableOffset)) continue;
    found.push([start, end]);
  }
  found.sort((a, b) => a[0] - b[0]);
  const out: CodeRange[] = [];
  for (const [start, end] of found) {
    const last = out.at(-1);
    if (last && start < last.start + last.length) continue; // overlapping sections: the first one wins
    out.push({ start, length: end - start, kind: head.kind, fileOffset: start });
  }
  return out;
}

/** Code ranges of an ELF file held whole in memory, or null. */
export function elfCodeOf(file: Uint8Array): CodeRange[] | null {
  const head = elfHead(file.subarray(0, ELF_HEADER_SIZE), file.length);
  if (!head) return null;
  const ranges = elfCodeRanges(head, file.subarray(head.tableOffset, head.tableOffset + head.tableLength), file.length);
  return ranges.length ? ranges : null;
}

/** Filters for diffing two whole files: when both are ELF files of one machine, else undefined. */
export function codeFiltersOf(old: Uint8Array, neu: Uint8Array): CodeFilters | undefined {
  const target = elfCodeOf(neu);
  const reference = target && elfCodeOf(old);
  return target && reference && reference[0].kind === target[0].kind ? { reference, target } : undefined;
}
