// Suffix-sort throughput: `npm run bench:sais -- [options]` or `node bench/sais.js [--runs N] [--sizes 8,32,128]
// [--old path/to/diffcore.wasm]`. Calls the core's suffixSort export directly
// on random data, text (concatenated /usr/share/doc files), a real layer tar
// (the nginx pair's base layer, unpacked from ../shared/images) and the
// esbuild 0.24.0 binary; prints MB/s of CPU time (median of N) and peak WASM bytes per
// input byte. With --old, a second build (e.g. one of main) runs side by side,
// alternating calls, and the table gets a ratio column. When gcc and
// libdivsufsort (Debian: libdivsufsort-dev) are installed, a last column gives
// native divsufsort's MB/s of CPU time on the same input (bench/native/), for
// reference. Prints, never fails.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { esbuildBinary, pseudoRandom } from './inputs.js';
import { divsufsortRate } from './native/divsufsort.js';

setFlagsFromString('--no-liftoff'); // as src/core/load.node.ts: one long call runs optimized code

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cacheDir = join(root, 'bench/.cache');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const runs = Number(opt('--runs', 3));
const sizes = opt('--sizes', '8,32,128').split(',').map(Number);
const oldWasm = opt('--old', null);
const imagesDir = resolve(opt('--images', existsSync(join(root, '../shared/images')) ? join(root, '../shared/images') : '/work/shared/images'));
const MB = 1 << 20;

async function instance(path) {
  const module = await WebAssembly.compile(readFileSync(path));
  const inst = await WebAssembly.instantiate(module, { env: { abort() { throw new Error('abort'); } } });
  return inst.exports;
}

/** One suffix sort on a fresh instance: seconds and peak bytes above the input. */
async function sortOnce(path, text) {
  const ex = await instance(path);
  const base = Number(ex.heapBase());
  const start = ex.memory.buffer.byteLength;
  const n = text.length;
  const sa = (base + n + 15) & ~15;
  const scratch = sa + 4 * n + 16;
  const need = scratch - ex.memory.buffer.byteLength;
  if (need > 0) ex.memory.grow(Math.ceil(need / 65536));
  new Uint8Array(ex.memory.buffer, base, n).set(text);
  // CPU time of this thread, not wall time: the machine is shared and busy.
  const c0 = process.cpuUsage();
  const r = ex.suffixSort(base, n, sa, scratch);
  const c1 = process.cpuUsage(c0);
  const secs = (c1.user + c1.system) / 1e6;
  if (r < 0) throw new Error('suffixSort: out of memory');
  const out = new Int32Array(ex.memory.buffer, sa, n);
  // Spot check: a permutation start and ordered neighbours at a few places.
  for (let i = 1; i < n; i += Math.max(1, n >> 10)) {
    const a = out[i - 1], b = out[i];
    let j = 0;
    while (a + j < n && b + j < n && text[a + j] === text[b + j] && j < 1 << 16) j++;
    if (j < 1 << 16 && !(a + j === n || (b + j < n && text[a + j] < text[b + j]))) throw new Error(`${path}: SA out of order at ${i}`);
  }
  return { secs, bytesPerInput: (ex.memory.buffer.byteLength - start) / n };
}

function textData(size) {
  const parts = [];
  let have = 0;
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (have >= size) return;
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && !/\.(gz|xz|bz2|zst)$/.test(e.name)) {
        const b = readFileSync(p);
        parts.push(b);
        have += b.length;
      }
    }
  };
  walk('/usr/share/doc');
  walk('/usr/share/common-licenses');
  const all = Buffer.concat(parts);
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i += all.length) out.set(all.subarray(0, Math.min(all.length, size - i)), i);
  return out;
}

/** The largest layer tar of the nginx pair's old image (the Debian base layer, 128 MB). */
function layerTar() {
  const dir = join(cacheDir, 'sais-layer');
  const done = join(dir, 'layer.tar');
  if (!existsSync(done)) {
    mkdirSync(dir, { recursive: true });
    const src = join(imagesDir, 'nginx-shared.tar.zst');
    execFileSync('sh', ['-c', `zstd -d --long=28 -c "${src}" | tar -xOf - shared-old.tar > "${dir}/image.tar"`]);
    const names = execFileSync('tar', ['-tvf', join(dir, 'image.tar')], { encoding: 'utf8' }).split('\n')
      .filter((l) => /layer\.tar$|blobs\/sha256\//.test(l))
      .map((l) => l.trim().split(/\s+/))
      .sort((a, b) => Number(b[2]) - Number(a[2]));
    execFileSync('sh', ['-c', `tar -xOf "${dir}/image.tar" "${names[0].at(-1)}" > "${done}" && rm "${dir}/image.tar"`]);
  }
  return readFileSync(done);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

const inputs = [];
for (const s of sizes) inputs.push([`random ${s} MB`, () => pseudoRandom(s * MB, 5)]);
for (const s of sizes) inputs.push([`text ${s} MB`, () => textData(s * MB)]);
for (const s of sizes) inputs.push([`layer tar ${s} MB`, () => layerTar().subarray(0, s * MB)]);
inputs.push(['esbuild 0.24.0', () => readFileSync(esbuildBinary(cacheDir, '0.24.0'))]);

const nativeRate = (text) => divsufsortRate(cacheDir, text, runs);

const newWasm = join(root, 'build/diffcore.wasm');
console.log(`\n## Suffix sort (WASM suffixSort), MB/s of CPU time, median of ${runs}; peak WASM memory per input byte (text + SA + scratch)\n`);
console.log(oldWasm ? '| input | old MB/s | new MB/s | new/old | old B/byte | new B/byte | native divsufsort MB/s |' : '| input | MB/s | B/byte | native divsufsort MB/s |');
console.log(oldWasm ? '|---|---|---|---|---|---|---|' : '|---|---|---|---|');
for (const [label, make] of inputs) {
  let text;
  try {
    text = make();
  } catch (e) {
    console.log(`| ${label} | skipped: ${String(e.message).split('\n')[0]} |`);
    continue;
  }
  const n = text.length;
  const res = { old: [], new: [] };
  let memOld = 0, memNew = 0;
  for (let r = 0; r < runs; r++) {
    if (oldWasm) {
      const o = await sortOnce(oldWasm, text);
      res.old.push(n / MB / o.secs);
      memOld = Math.max(memOld, o.bytesPerInput);
    }
    const w = await sortOnce(newWasm, text);
    res.new.push(n / MB / w.secs);
    memNew = Math.max(memNew, w.bytesPerInput);
  }
  const f = (x) => x.toFixed(1);
  if (oldWasm) {
    const o = median(res.old), w = median(res.new);
    console.log(`| ${label} | ${f(o)} | ${f(w)} | ${(w / o).toFixed(2)}x | ${memOld.toFixed(2)} | ${memNew.toFixed(2)} | ${nativeRate(text)} |`);
  } else console.log(`| ${label} | ${f(median(res.new))} | ${memNew.toFixed(2)} | ${nativeRate(text)} |`);
}
