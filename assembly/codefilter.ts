// Branch normalization of machine code (a BCJ-style filter, our own).
//
// A call or a data reference in code holds its target as a distance from
// the instruction. When a release adds code, every distance across the
// insertion changes, so thousands of otherwise identical instructions
// differ. Rewritten as absolute targets (distance + position), they match
// again. The position is the byte's offset in its file (`fileOffset` of the
// range's first byte), so the old and new versions agree.
//
// Rewritten (measured on the nginx pair and esbuild, bench/elf-experiment.js;
// local jumps are better left relative, they move with their code):
//   x86-64 (FILTER_X86_64): E8 rel32 (call) and REX + 8B/8D ModRM
//     [rip+disp32] (mov/lea of a RIP-relative address)
//   AArch64 (FILTER_ARM64): BL imm26 and ADRP imm21
//
// x86-64 instructions have no alignment, so what looks like an opcode may be
// inside another instruction. A candidate is rewritten only when its 32-bit
// operand fits 25 signed bits and it is kept in 25 signed bits (so the top
// byte stays 00 or FF and the inverse sees the same candidates). A candidate
// that is not rewritten shields its operand bytes from later rewrites, so
// the inverse reads them as the forward pass did. Both passes therefore make
// the same decisions at every offset, whatever the bytes: the filter is a
// bijection on any range, and needs no memory beyond the range itself.
//
// Each call is linear in the range's length; reads and writes stay in
// [start, end) of the caller's buffer (checked by the caller, wasm.ts).

export const FILTER_X86_64: i32 = 1;
export const FILTER_ARM64: i32 = 2;

/** 1 for opcodes (after a REX prefix) whose ModRM may name [rip+disp32] with no immediate following. */
@inline function ripOpcode(op: u32): bool {
  return op == 0x8b || op == 0x8d;
}

@inline function to25(x: i32): i32 {
  return ((x & 0x1ffffff) ^ 0x1000000) - 0x1000000;
}

function x86(buf: usize, start: i32, end: i32, fileOffset: u32, encode: bool): i32 {
  let shield: i32 = -1; // last operand byte of a candidate left alone
  let count = 0;
  let i = start;
  // Invariant: start <= i and i + 5 <= end inside the loop, so every read
  // below (at most i + 2 for the pattern, at + 3 for the operand, with
  // at + 4 <= end checked) stays in [start, end).
  while (i + 5 <= end) {
    const op = <u32>load<u8>(buf + <usize>i);
    let at = 0;
    if (op == 0xe8) at = i + 1;
    else if ((op & 0xf0) == 0x40 && ripOpcode(<u32>load<u8>(buf + <usize>i + 1)) && (load<u8>(buf + <usize>i + 2) & 0xc7) == 0x05) at = i + 3;
    if (at == 0 || at + 4 > end) {
      i++;
      continue;
    }
    const top = <u32>load<u8>(buf + <usize>at + 3);
    if (at > shield && (top == 0 || top == 0xff)) {
      const pc = <i32>(fileOffset + <u32>(at + 4 - start));
      const x = load<i32>(buf + <usize>at);
      store<i32>(buf + <usize>at, to25(encode ? x + pc : x - pc));
      count++;
      i = at + 4;
    } else {
      shield = max(shield, at + 3);
      i++;
    }
  }
  return count;
}

function arm64(buf: usize, start: i32, end: i32, fileOffset: u32, encode: bool): i32 {
  let count = 0;
  // First byte of the range at a 4-aligned file offset.
  let i = start + <i32>((4 - (fileOffset & 3)) & 3);
  for (; i + 4 <= end; i += 4) {
    const pc = fileOffset + <u32>(i - start);
    const w = load<u32>(buf + <usize>i);
    if ((w & 0xfc000000) == 0x94000000) {
      const imm = w & 0x3ffffff;
      const word = pc >>> 2;
      const out = (encode ? imm + word : imm - word) & 0x3ffffff;
      store<u32>(buf + <usize>i, 0x94000000 | out);
      count++;
    } else if ((w & 0x9f000000) == 0x90000000) {
      const imm = ((w >>> 29) & 3) | (((w >>> 5) & 0x7ffff) << 2);
      const page = pc >>> 12;
      const out = (encode ? imm + page : imm - page) & 0x1fffff;
      store<u32>(buf + <usize>i, (w & 0x9f00001f) | ((out & 3) << 29) | ((out >>> 2) << 5));
      count++;
    }
  }
  return count;
}

/**
 * Filter the code in [buf + start, buf + end): `encode` makes branch targets
 * absolute, !encode restores them. Called by wasm.ts on a diff's reference
 * and target (create) and on a patch's reference and output (apply).
 * Returns the number of instructions rewritten, or -1 for an unknown kind
 * or a range the caller should have refused (start < 0, end < start).
 */
export function codeFilter(buf: usize, start: i32, end: i32, kind: i32, fileOffset: u32, encode: bool): i32 {
  if (start < 0 || end < start) return -1;
  if (kind == FILTER_X86_64) return x86(buf, start, end, fileOffset, encode);
  if (kind == FILTER_ARM64) return arm64(buf, start, end, fileOffset, encode);
  return -1;
}
