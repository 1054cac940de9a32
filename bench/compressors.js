// Section: compressed streams from several compressors through our exact
// deflate codec (src/core: gunzipExact / gzipExact, the exact form = text +
// structure). Per compressor and level, over the same inputs (real files of
// the nginx pair's changed layer, the image config, random bytes):
//   - round trip: decode to the exact form and re-encode gives the identical
//     stream (count of inputs);
//   - what the decoded form adds beyond the plain text: its structure bytes,
//     raw and deflated (level 9, as the patch deflates what it carries), as a
//     share of the stream;
//   - for Go-made layer blobs (registry-gz) and pgzip ones (skopeo), whether
//     Go's model (goGzipParams) reproduces them, and if not, how far the
//     closest level gets (common prefix).
// Compressors run as programs (GNU gzip, pigz, python3's zlib) or in process
// (Node's zlib, fflate). Numbers only.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync as nodeGzip, gunzipSync } from 'node:zlib';
import { deflateSync, gzipSync as fflateGzip } from 'fflate';
import { onPath, table } from './measure.js';
import { pseudoRandom } from './inputs.js';
import { layerBlobsOf, skopeoOciPair, unpackPair } from './images.js';

const LEVELS = [1, 2, 3, 4, 5, 6, 7, 8, 9];
const fmtBytes = (n) => n.toLocaleString('en-US');
const pct = (part, whole) => (whole > 0 ? `${((100 * part) / whole).toFixed(1)}%` : '-');
const tarOut = (archive, member) => execFileSync('tar', ['-xOf', archive, member], { maxBuffer: 1 << 30 });

/** The inputs: real files from the nginx pair's changed layer, the image config, 1 MiB of random bytes. */
export function compressorInputs(nginxNewArchive) {
  const manifest = JSON.parse(tarOut(nginxNewArchive, 'manifest.json'));
  const layer = join(nginxNewArchive + '.top-layer.tar');
  if (!existsSync(layer)) execFileSync('sh', ['-c', 'tar -xOf "$1" "$2" > "$3"', 'sh', nginxNewArchive, manifest[0].Layers.at(-1), layer]);
  const file = (path) => new Uint8Array(tarOut(layer, path));
  const inputs = [
    { name: 'changelog text (libssl3, decoded)', bytes: new Uint8Array(gunzipSync(file('usr/share/doc/libssl3/changelog.gz'))) },
    { name: 'ELF (usr/sbin/nginx)', bytes: file('usr/sbin/nginx') },
    { name: 'JSON (image config)', bytes: new Uint8Array(tarOut(nginxNewArchive, manifest[0].Config)) },
    { name: 'random', bytes: pseudoRandom(1 << 20, 11) },
  ];
  const debianGz = execFileSync('tar', ['-tf', layer], { encoding: 'utf8', maxBuffer: 1 << 26 }).split('\n').filter((p) => p.endsWith('.gz'));
  return { inputs, debian: debianGz.map((p) => ({ name: p, stream: file(p) })) };
}

/** Every compressor: name, whether it runs here, and gzip(bytes, level). */
function compressors() {
  const run = (argv) => (bytes) => new Uint8Array(execFileSync(argv[0], argv.slice(1), { input: bytes, maxBuffer: 1 << 30 }));
  const py = 'import sys,zlib; c=zlib.compressobj(int(sys.argv[1]), zlib.DEFLATED, 31); sys.stdout.buffer.write(c.compress(sys.stdin.buffer.read())+c.flush())';
  return [
    { name: 'GNU gzip -N -n', need: 'gzip', gzip: (b, l) => run(['gzip', `-${l}`, '-n', '-c'])(b) },
    { name: 'zlib (python3, wbits 31)', need: 'python3', gzip: (b, l) => run(['python3', '-c', py, String(l)])(b) },
    { name: 'pigz -N -n', need: 'pigz', gzip: (b, l) => run(['pigz', `-${l}`, '-n', '-c'])(b) },
    { name: "Node's zlib", gzip: (b, l) => new Uint8Array(nodeGzip(b, { level: l })) },
    { name: 'fflate', gzip: (b, l) => fflateGzip(b, { level: l, mtime: 0 }) },
  ];
}

/** Exact form of one gzip stream: { exact, text, structure, packed } (structure deflated at level 9). */
function exactOf(core, stream, textHint) {
  const budget = { maxOutput: Math.min(0x7fffffff, Math.max(textHint, 1032 * stream.length) + 65536), maxStructure: Math.min(0x7fffffff, 8 * stream.length + 65536) };
  const form = core.exactForm(stream, 'gzip', budget);
  if (!form) return { exact: false, text: 0, structure: 0, packed: 0 };
  return { exact: true, text: form.text.length, structure: form.structure.length, packed: deflateSync(form.structure, { level: 9 }).length };
}

/**
 * One row over several streams: exact count, and sums. With goCheck, Go's
 * model is tried on the changed streams only (a shared base blob is reused
 * as stored; trying every level on its 128 MB of text takes minutes).
 */
function rowOver(core, label, level, streams, goCheck) {
  let [exact, streamBytes, exactBytes, text, structure, packed, go] = [0, 0, 0, 0, 0, 0, 0];
  for (const s of streams) {
    const r = exactOf(core, s.stream, s.textSize ?? 0);
    streamBytes += s.stream.length;
    if (r.exact) [exact, exactBytes, text, structure, packed] = [exact + 1, exactBytes + s.stream.length, text + r.text, structure + r.structure, packed + r.packed];
    if (goCheck && s.changed && core.goGzipParams(s.stream, { maxOutput: 0x7fffffff - 65536, maxStructure: 8 * s.stream.length + 65536 })) go++;
  }
  const changed = streams.filter((s) => s.changed).length;
  return [label, level, `${exact}/${streams.length}`, fmtBytes(streamBytes), fmtBytes(text), fmtBytes(structure), fmtBytes(packed), pct(packed, exactBytes), goCheck ? `${go}/${changed} changed` : '-'];
}

/**
 * How close Go's model gets to a blob it does not reproduce: per level, the
 * common prefix of its output and the blob (whole members and sync-flush
 * blocks, as pgzip writes them, show where a block boundary falls).
 */
export function goCloseness(core, blob) {
  const form = core.exactForm(blob, 'gzip', { maxOutput: 0x7fffffff - 65536, maxStructure: Math.min(0x7fffffff, 8 * blob.length + 65536) });
  const text = form ? form.text : new Uint8Array(gunzipSync(blob));
  const header = blob.subarray(0, 10);
  let best = { level: 0, prefix: -1 };
  for (const level of [1, 2, 3, 4, 5, 6, 7, 8, 9, -2]) {
    const ours = core.goGzipExact(text, { level, header });
    let i = 0;
    const n = Math.min(ours.length, blob.length);
    while (i < n && ours[i] === blob[i]) i++;
    if (i > best.prefix) best = { level, prefix: i };
  }
  let flushes = 0;
  for (let i = 0; i + 4 < blob.length; i++) if (blob[i] === 0 && blob[i + 1] === 0 && blob[i + 2] === 0xff && blob[i + 3] === 0xff) flushes++;
  return { ...best, text: text.length, exact: form !== null, structure: form?.structure.length ?? 0, flushes };
}

/** The distinct layer blobs of an old and a new archive (by path), read whole; `changed`: in one of them only (what a patch must rebuild). */
function distinctBlobs(archives) {
  const seen = new Map();
  for (const archive of archives) {
    for (const { path } of layerBlobsOf(archive)) {
      const known = seen.get(path);
      if (known) known.changed = false;
      else seen.set(path, { name: path, stream: new Uint8Array(tarOut(archive, path)), changed: true });
    }
  }
  return [...seen.values()];
}

/** The section: the table, then how close Go's model gets to each changed blob it does not reproduce. */
export async function runCompressorSection(opts) {
  console.log('\n# Compressed streams through the exact deflate codec\n');
  const file = (name) => join(opts.imagesDir, `${name}.tar.zst`);
  if (!existsSync(file('nginx-shared')) || !onPath('zstd')) {
    console.log(`(needs ${file('nginx-shared')} and zstd: section skipped)`);
    return;
  }
  const { loadCore } = await import(join(opts.root, 'dist/core/index.js'));
  const core = await loadCore();
  const nginx = unpackPair(opts.imagesDir, 'nginx-shared.tar.zst', opts.cacheDir);
  const blobs = [];
  if (existsSync(file('registry-gz'))) {
    const gz = unpackPair(opts.imagesDir, 'registry-gz.tar.zst', opts.cacheDir);
    blobs.push({ label: 'Go-made layer blobs (registry-gz old+new)', streams: distinctBlobs([gz.oldPath, gz.newPath]) });
  }
  if (!opts.skipOci && onPath('skopeo')) {
    const oci = skopeoOciPair(opts.cacheDir, nginx);
    blobs.push({ label: 'pgzip layer blobs (skopeo OCI old+new)', streams: distinctBlobs([oci.oldPath, oci.newPath]) });
  }
  const { inputs, debian } = compressorInputs(nginx.newPath);
  console.log(`inputs: ${inputs.map((i) => `${i.name} ${fmtBytes(i.bytes.length)} B`).join('; ')}`);
  console.log("'exact': decoded to the exact form and re-encoded to the identical stream; 'text', 'structure': sums over the exact ones; 'structure': what that form adds to the text (raw, and deflated -9 as a patch carries it; share of those streams' bytes); 'Go model': goGzipParams rebuilds the stream\n");
  const rows = [];
  for (const c of compressors()) {
    if (c.need && !onPath(c.need)) {
      rows.push([c.name, '-', `(${c.need} not on PATH)`, '', '', '', '', '', '']);
      continue;
    }
    for (const level of LEVELS) {
      const streams = inputs.map((i) => ({ stream: c.gzip(i.bytes, level), textSize: i.bytes.length }));
      rows.push(rowOver(core, c.name, String(level), streams, false));
    }
  }
  rows.push(rowOver(core, "Debian's .gz files (nginx layer)", 'as shipped', debian, false));
  for (const b of blobs) rows.push(rowOver(core, b.label, 'as stored', b.streams, true));
  table(['compressor', 'level', 'exact', 'stream bytes', 'text bytes', 'structure', 'structure deflated', 'of stream', 'Go model'], rows);

  console.log("\nGo's model against each changed blob (levels 1-9 and -2, the blob's own header): longest common prefix with the blob, and the blob's sync-flush markers (00 00 FF FF: pgzip ends each block so)\n");
  const close = [];
  for (const b of blobs) {
    for (const s of b.streams.filter((x) => x.changed)) {
      const c = goCloseness(core, s.stream);
      close.push([b.label.split(' (')[0], s.name.slice(-20), fmtBytes(s.stream.length), fmtBytes(c.text), String(c.level), `${fmtBytes(c.prefix)} (${pct(c.prefix, s.stream.length)})`, String(c.flushes), c.exact ? fmtBytes(c.structure) : 'not exact']);
    }
  }
  table(['blobs', 'blob', 'bytes', 'text bytes', 'closest level', 'common prefix', 'sync flushes', 'exact-form structure'], close);
}
