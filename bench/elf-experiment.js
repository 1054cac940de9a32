// Experiment (issue 11, item 3): does a BCJ-style branch normalization of
// ELF code make our patches of executables smaller? Not part of the tool.
//
// For each pair, both files are transformed (relative branch targets in
// executable sections rewritten as absolute ones), diffed with the core,
// encoded as a raw patch, and compared with the plain raw patch. The
// transform's inverse is checked on every file (untransform(transform(x)) = x).
//
//   node bench/elf-experiment.js OLD NEW [OLD NEW ...]
//   node bench/elf-experiment.js --nginx DIR   (DIR holds lo/ and ln/: the
//        changed nginx layer, old and new, unpacked)
//
//   node bench/elf-experiment.js --only call+rip,bl+adrp ...   (some variants)
//
// Variants: x86-64: call (E8 rel32), jmp (E9 rel32), jcc (0F 80..8F rel32),
// rip (REX 8B/8D with [rip+disp32]; rip2 adds nine more such opcodes);
// AArch64: bl, b (imm26), adrp (imm21 pages).
//
// Results (2026-12-02; raw patch bytes, deflate 9; nginx = the changed ELF
// files of the nginx-shared pair's top layer; esbuild 0.24.0 -> 0.24.2):
//
// | file | plain | call | call+jmp | call+jmp+jcc | call+rip | call+jmp+rip |
// |---|---|---|---|---|---|---|
// | nginx | 56,062 | 47,709 | 53,747 | 62,899 | 47,930 | 54,270 |
// | libcrypto.so.3 | 278,581 | 267,218 | 276,360 | 297,367 | 264,094 | 272,731 |
// | libssl.so.3 | 33,620 | 31,791 | 34,237 | 38,503 | 31,127 | 33,565 |
// | legacy.so | 791 | 714 | 723 | 753 | 658 | 665 |
// | afalg.so | 307 | 307 | 307 | 307 | 307 | 307 |
// | loader_attic.so | 1,233 | 1,017 | 1,077 | 1,248 | 929 | 985 |
// | padlock.so | 271 | 271 | 271 | 271 | 271 | 271 |
// | nginx files, sum | 370,865 | 349,027 (-5.9%) | 367,722 (-0.8%) | 401,348 (+8.2%) | 345,316 (-6.9%) | 362,794 (-2.2%) |
// | esbuild x64 | 283,782 | 259,648 (-8.5%) | 270,230 (-4.8%) | 284,642 (+0.3%) | 253,576 (-10.6%) | 264,143 (-6.9%) |
//
// call+rip2: nginx files 345,161, esbuild x64 253,508 (no better than call+rip).
//
// | file | plain | bl | bl+b | bl+adrp | bl+b+adrp |
// |---|---|---|---|---|---|
// | esbuild arm64 | 249,182 | 222,267 (-10.8%) | 244,497 (-1.9%) | 208,669 (-16.3%) | 228,266 (-8.4%) |
//
// Local branches (jmp, jcc, b) are better left relative: code that moves as
// a block keeps them. Calls and data references (rip, adrp) reach other
// functions and sections, whose distance changes when anything in between
// grows, so they are better absolute. Chosen: call+rip and bl+adrp.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(import.meta.url), '../..');
const { loadCore } = await import(join(root, 'dist/core/index.js'));
const { encodeRawPatch } = await import(join(root, 'dist/format/single/raw.js'));

const EM_X86_64 = 62;
const EM_AARCH64 = 183;
const SHF_EXECINSTR = 4;
const SHT_NOBITS = 8;

/**
 * Executable sections of an ELF64 little-endian file as [start, end) file
 * ranges, clipped so they never cover the ELF header or the section header
 * table (the inverse must find the same ranges in the transformed bytes).
 * Returns null for anything else.
 */
export function elfCodeRanges(b) {
  if (b.length < 64 || b[0] !== 0x7f || b[1] !== 0x45 || b[2] !== 0x4c || b[3] !== 0x46) return null;
  if (b[4] !== 2 || b[5] !== 1) return null; // ELFCLASS64, little-endian
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const machine = v.getUint16(18, true);
  if (machine !== EM_X86_64 && machine !== EM_AARCH64) return null;
  const shoff = Number(v.getBigUint64(40, true));
  const shentsize = v.getUint16(58, true);
  const shnum = v.getUint16(60, true);
  if (shentsize < 64 || shnum === 0 || shoff < 64 || shoff + shnum * shentsize > b.length) return null;
  const tableEnd = shoff + shnum * shentsize;
  const ranges = [];
  for (let i = 0; i < shnum; i++) {
    const h = shoff + i * shentsize;
    const type = v.getUint32(h + 4, true);
    const flags = Number(v.getBigUint64(h + 8, true) & 0xffffffffn);
    const offset = Number(v.getBigUint64(h + 24, true));
    const size = Number(v.getBigUint64(h + 32, true));
    if (type === SHT_NOBITS || !(flags & SHF_EXECINSTR) || size === 0) continue;
    let start = Math.max(offset, 64);
    let end = Math.min(offset + size, b.length);
    if (start < tableEnd && end > shoff) continue; // overlaps the section headers: leave it alone
    if (end > start) ranges.push([start, end]);
  }
  ranges.sort((x, y) => x[0] - y[0]);
  // Overlapping sections would be transformed twice: keep the first of any overlap.
  const out = [];
  for (const r of ranges) if (!out.length || r[0] >= out[out.length - 1][1]) out.push(r);
  return { machine, ranges: out };
}

/**
 * x86-64: E8/E9 rel32 (and 0F 8x rel32 with `jcc`) whose displacement fits
 * in 25 signed bits become (displacement + end of instruction) mod 2^25,
 * sign-extended, so the operand's top byte stays 00/FF and the inverse
 * sees the same candidates. An opcode that is not converted protects its
 * operand bytes from later conversions (the inverse reads them as they were).
 */
/** Opcodes (after a REX prefix) whose ModRM may name [rip+disp32] with no immediate after it. */
const RIP_OPS = { 1: new Uint8Array(256), 2: new Uint8Array(256) };
for (const op of [0x8b, 0x8d]) RIP_OPS[1][op] = RIP_OPS[2][op] = 1;
for (const op of [0x89, 0x3b, 0x39, 0x63, 0x85, 0x01, 0x03, 0x2b, 0x33, 0x0b, 0x23]) RIP_OPS[2][op] = 1;

function x86(b, start, end, encode, kinds) {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let protect = -1;
  let count = 0;
  for (let i = start; i + 5 <= end; ) {
    const op = b[i];
    let at = 0;
    if ((op === 0xe8 && kinds.call) || (op === 0xe9 && kinds.jmp)) at = i + 1;
    else if (kinds.jcc && op === 0x0f && (b[i + 1] & 0xf0) === 0x80) at = i + 2;
    else if (kinds.rip && (op & 0xf0) === 0x40 && RIP_OPS[kinds.rip][b[i + 1]] && (b[i + 2] & 0xc7) === 0x05) at = i + 3;
    if (at === 0 || at + 4 > end) {
      i++;
      continue;
    }
    const top = b[at + 3];
    if (at > protect && (top === 0 || top === 0xff)) {
      const pc = at + 4;
      const x = v.getInt32(at, true);
      let y = encode ? x + pc : x - pc;
      y = ((y & 0x1ffffff) ^ 0x1000000) - 0x1000000; // to 25 signed bits
      v.setInt32(at, y, true);
      count++;
      i = at + 4;
    } else {
      protect = Math.max(protect, at + 3);
      i++;
    }
  }
  return count;
}

/** AArch64: imm26 of BL (and B), imm21 of ADRP, made absolute (in words / pages). */
function arm64(b, start, end, encode, withB, withAdrp) {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let count = 0;
  for (let i = (start + 3) & ~3; i + 4 <= end; i += 4) {
    const w = v.getUint32(i, true);
    const top = (w & 0xfc000000) >>> 0;
    if (top === 0x94000000 || (withB && top === 0x14000000)) {
      const pc = (i >>> 2) & 0x3ffffff;
      const imm = w & 0x3ffffff;
      const out = (encode ? imm + pc : imm - pc) & 0x3ffffff;
      v.setUint32(i, (top | out) >>> 0, true);
      count++;
    } else if (withAdrp && ((w & 0x9f000000) >>> 0) === 0x90000000) {
      const page = (i >>> 12) & 0x1fffff;
      const imm = ((w >>> 29) & 3) | (((w >>> 5) & 0x7ffff) << 2);
      const out = (encode ? imm + page : imm - page) & 0x1fffff;
      const nw = (w & 0x9f00001f) | ((out & 3) << 29) | ((out >>> 2) << 5);
      v.setUint32(i, nw >>> 0, true);
      count++;
    }
  }
  return count;
}

export const VARIANTS = {
  [EM_X86_64]: {
    call: { call: true },
    'call+jmp': { call: true, jmp: true },
    'call+jmp+jcc': { call: true, jmp: true, jcc: true },
    'call+rip': { call: true, rip: 1 },
    'call+rip2': { call: true, rip: 2 },
    'call+jmp+rip': { call: true, jmp: true, rip: 1 },
  },
  [EM_AARCH64]: { bl: {}, 'bl+b': { b: true }, 'bl+adrp': { adrp: true }, 'bl+b+adrp': { b: true, adrp: true } },
};

/** A transformed copy of `bytes` (or the inverse with encode=false); null when not a supported ELF. */
export function transform(bytes, variant, encode = true) {
  const elf = elfCodeRanges(bytes);
  if (!elf) return null;
  const b = new Uint8Array(bytes); // a copy (Buffer#slice would be a view)
  let count = 0;
  for (const [s, e] of elf.ranges) {
    count += elf.machine === EM_X86_64 ? x86(b, s, e, encode, variant) : arm64(b, s, e, encode, variant.b, variant.adrp);
  }
  return { bytes: b, count, machine: elf.machine };
}

function patchBytes(core, old, neu) {
  return encodeRawPatch(old, neu, core.diff(old, neu)).length;
}

function measurePair(core, name, oldBytes, newBytes) {
  const elf = elfCodeRanges(newBytes);
  const plain = patchBytes(core, oldBytes, newBytes);
  const rows = [];
  if (!elf) return [{ name, variant: '(not ELF)', plain, transformed: plain, count: 0 }];
  for (const [label, variant] of Object.entries(VARIANTS[elf.machine])) {
    if (only && !only.includes(label)) continue;
    const o = transform(oldBytes, variant);
    const n = transform(newBytes, variant);
    for (const [orig, t] of [[oldBytes, o], [newBytes, n]]) {
      const back = transform(t.bytes, variant, false);
      if (Buffer.compare(Buffer.from(back.bytes), Buffer.from(orig)) !== 0) throw new Error(`${name} ${label}: inverse is not exact`);
    }
    rows.push({ name, variant: label, plain, transformed: patchBytes(core, o.bytes, n.bytes), count: n.count });
  }
  return rows;
}

function printTable(rows) {
  console.log('| file | variant | branches rewritten (new) | plain patch bytes | transformed patch bytes | gain % |');
  console.log('|---|---|---|---|---|---|');
  for (const r of rows) {
    const gain = ((1 - r.transformed / r.plain) * 100).toFixed(1);
    console.log(`| ${r.name} | ${r.variant} | ${r.count} | ${r.plain} | ${r.transformed} | ${gain} |`);
  }
}

const NGINX_FILES = [
  'usr/sbin/nginx',
  'usr/lib/x86_64-linux-gnu/libcrypto.so.3',
  'usr/lib/x86_64-linux-gnu/libssl.so.3',
  'usr/lib/x86_64-linux-gnu/ossl-modules/legacy.so',
  'usr/lib/x86_64-linux-gnu/engines-3/afalg.so',
  'usr/lib/x86_64-linux-gnu/engines-3/loader_attic.so',
  'usr/lib/x86_64-linux-gnu/engines-3/padlock.so',
];

const args = process.argv.slice(2);
const pairs = [];
let only = null;
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--only') only = args[++i].split(',');
  else if (args[i] === '--nginx') {
    const dir = args[++i];
    for (const f of NGINX_FILES) pairs.push([f.split('/').pop(), join(dir, 'lo', f), join(dir, 'ln', f)]);
  } else {
    pairs.push([args[i + 1], args[i], args[i + 1]]);
    i++;
  }
}
const core = await loadCore();
const rows = [];
for (const [name, o, n] of pairs) rows.push(...measurePair(core, name, readFileSync(o), readFileSync(n)));
printTable(rows);
// Sums per variant over the files that have it.
const sums = new Map();
for (const r of rows) {
  const s = sums.get(r.variant) ?? { plain: 0, transformed: 0 };
  s.plain += r.plain;
  s.transformed += r.transformed;
  sums.set(r.variant, s);
}
console.log('\n| variant | sum plain | sum transformed | gain % |\n|---|---|---|---|');
for (const [k, s] of sums) console.log(`| ${k} | ${s.plain} | ${s.transformed} | ${((1 - s.transformed / s.plain) * 100).toFixed(1)} |`);
