/**
 * Code ranges (core/code-filter.ts) as the patch formats store them: a
 * count, then per range its kind, its start as a distance past the previous
 * range's end (so ranges are sorted and disjoint by construction), its
 * length and the file offset of its first byte, all wide varints. Used by
 * image windows (window.ts) and raw patches (single/raw.ts).
 */
import { checkCodeRanges, type CodeKind, type CodeRange } from '../core/index.js';
import { badPatch } from '../errors.js';
import type { VarintReader, VarintWriter } from './varint.js';

export function putCodeRanges(out: VarintWriter, ranges: readonly CodeRange[]): void {
  out.wide(ranges.length);
  let end = 0;
  for (const r of ranges) {
    out.wide(r.kind);
    out.wide(r.start - end);
    out.wide(r.length);
    out.wide(r.fileOffset);
    end = r.start + r.length;
  }
}

/** Code ranges of a buffer of `size` bytes: kinds known, inside it (checked); `what` names it in errors. */
export function getCodeRanges(input: VarintReader, size: number, what: string): CodeRange[] {
  const count = input.wide();
  if (count * 4 > input.remaining) throw badPatch(`${what} claims more code ranges than it holds`);
  const ranges: CodeRange[] = [];
  let end = 0;
  for (let i = 0; i < count; i++) {
    const r = { kind: input.wide() as CodeKind, start: end + input.wide(), length: input.wide(), fileOffset: input.wide() };
    end = r.start + r.length;
    ranges.push(r);
  }
  checkCodeRanges(ranges, size, what);
  return ranges;
}
