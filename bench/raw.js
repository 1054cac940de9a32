// Section 1: single files. Our CLI (child process) beside Debian bsdiff,
// xdelta3 and zstd on a real executable pair; scaling on synthetic inputs;
// worst-case inputs against random data.
import { readFileSync, statSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { onPath, measure, table, fmtS, fmtMB, fmtRatio } from './measure.js';
import { esbuildBinary, syntheticPair, pseudoRandom, zeros, repeatedBlock } from './inputs.js';
import { hdiffPatchTools, HDIFFZ_ARGS } from './hdiffz.js';

const MB = 1024 * 1024;

function tools(root, cacheDir) {
  const ours = [process.execPath, join(root, 'bin/docker-patcher.js'), '-q'];
  const hdiff = cacheDir ? hdiffPatchTools(cacheDir) : { missing: 'not asked for' };
  const hdiffTool = (compress) => ({
    name: `hdiffz ${hdiff.version ?? ''} ${HDIFFZ_ARGS.join(' ')} ${compress}`.replace(/  +/g, ' '),
    key: `hdiffz ${compress}`,
    missing: hdiff.missing,
    diff: (o, n, p) => [hdiff.hdiffz, ...HDIFFZ_ARGS, compress, '-f', o, n, p],
    patch: (o, p, n) => [hdiff.hpatchz, '-f', o, p, n],
  });
  return [
    { name: 'docker-patcher', diff: (o, n, p) => [...ours, 'diff', o, n, p], patch: (o, p, n) => [...ours, 'patch', o, p, n] },
    { name: 'bsdiff', need: 'bsdiff', diff: (o, n, p) => ['bsdiff', o, n, p], patch: (o, p, n) => ['bspatch', o, n, p] },
    {
      name: 'xdelta3 -9 -S djw',
      need: 'xdelta3',
      diff: (o, n, p) => ['xdelta3', '-9', '-S', 'djw', '-e', '-f', '-s', o, n, p],
      patch: (o, p, n) => ['xdelta3', '-d', '-f', '-s', o, p, n],
    },
    {
      name: 'zstd -19 --long=31',
      need: 'zstd',
      diff: (o, n, p) => ['zstd', '-q', '-f', '-19', '--long=31', `--patch-from=${o}`, n, '-o', p],
      patch: (o, p, n) => ['zstd', '-q', '-d', '-f', '--long=31', `--patch-from=${o}`, p, '-o', n],
    },
    hdiffTool('-c-zstd-21-24'),
    hdiffTool('-c-zlib-9'),
  ];
}

/** Diff + patch one pair with one tool; checks the output is exact. */
async function benchTool(tool, oldPath, newPath, work, runs) {
  const file = (tool.key ?? tool.name).replace(/[^A-Za-z0-9]+/g, '-');
  const patchPath = join(work, `${file}.patch`);
  const outPath = join(work, `${file}.out`);
  const diff = await measure(tool.diff(oldPath, newPath, patchPath), runs);
  const patch = await measure(tool.patch(oldPath, patchPath, outPath), runs);
  if (!readFileSync(outPath).equals(readFileSync(newPath))) throw new Error(`${tool.name}: output differs from NEW`);
  return { name: tool.name, key: tool.key, diff, patch, bytes: statSync(patchPath).size, newSize: statSync(newPath).size };
}

async function realPair(opts) {
  const oldPath = esbuildBinary(opts.cacheDir, '0.24.0');
  const newPath = esbuildBinary(opts.cacheDir, '0.24.2');
  console.log(`\n## Real executables: esbuild 0.24.0 -> 0.24.2 (${fmtMB(statSync(newPath).size / 1024)} MB), median of ${opts.runs}\n`);
  const results = [];
  for (const tool of tools(opts.root, opts.cacheDir)) {
    if (tool.need && !onPath(tool.need)) {
      console.log(`(${tool.name}: not on PATH, skipped)`);
      continue;
    }
    if (tool.missing) {
      console.log(`(${tool.name}: skipped, ${tool.missing})`);
      continue;
    }
    results.push(await benchTool(tool, oldPath, newPath, opts.work, opts.runs));
  }
  const base = results.find((r) => r.name === 'bsdiff');
  table(
    ['tool', 'diff s', 'diff MB RSS', 'patch bytes', 'apply s', 'apply MB RSS', 'apply MB/s', 'diff time vs bsdiff', 'bytes vs bsdiff'],
    results.map((r) => [
      r.name,
      fmtS(r.diff.seconds),
      fmtMB(r.diff.rssKiB),
      r.bytes,
      fmtS(r.patch.seconds),
      fmtMB(r.patch.rssKiB),
      (r.newSize / MB / r.patch.seconds).toFixed(0),
      base ? fmtRatio(r.diff.seconds / base.diff.seconds) : '-',
      base ? fmtRatio(r.bytes / base.bytes) : '-',
    ]),
  );
  return { results, base };
}

/** In-process apply throughput of the core (no process start, no file I/O). */
async function coreApplyRate(opts) {
  const { loadCore } = await import(join(opts.root, 'dist/core/index.js'));
  const { decodeRawPatch } = await import(join(opts.root, 'dist/format/single/raw.js'));
  const old = readFileSync(esbuildBinary(opts.cacheDir, '0.24.0'));
  const patch = decodeRawPatch(readFileSync(join(opts.work, 'docker-patcher.patch')));
  const core = await loadCore();
  const times = [];
  for (let i = 0; i < Math.max(3, opts.runs); i++) {
    const t = performance.now();
    for (const chunk of core.patchChunks(old, patch.delta, patch.newSize, 4 * MB)) void chunk;
    times.push((performance.now() - t) / 1000);
  }
  times.sort((a, b) => a - b);
  return patch.newSize / MB / times[Math.floor(times.length / 2)];
}

async function scaling(opts) {
  console.log(`\n## Scaling (docker-patcher, synthetic release-like edits), median of ${opts.runs}\n`);
  const ours = tools(opts.root)[0];
  const rows = [];
  for (const size of opts.sizes) {
    const { oldPath, newPath } = syntheticPair(opts.cacheDir, `synthetic-${size}MB`, () => pseudoRandom(size * MB, size));
    rows.push({ ...(await benchTool(ours, oldPath, newPath, opts.work, opts.runs)), size });
  }
  table(
    ['size', 'diff s', 'diff MB RSS', 'patch bytes', 'apply s', 'apply MB RSS', 'apply MB/s'],
    rows.map((r) => [`${r.size} MB`, fmtS(r.diff.seconds), fmtMB(r.diff.rssKiB), r.bytes, fmtS(r.patch.seconds), fmtMB(r.patch.rssKiB), (r.newSize / MB / r.patch.seconds).toFixed(0)]),
  );
  return rows;
}

async function worstCases(opts) {
  const size = opts.worstSize;
  console.log(`\n## Worst cases (docker-patcher diff, ${size} MB, small edits), median of ${opts.runs}\n`);
  const ours = tools(opts.root)[0];
  const cases = [
    ['random', () => pseudoRandom(size * MB, 5)],
    ['zeros', () => zeros(size * MB)],
    ['4 KiB block repeated', () => repeatedBlock(size * MB)],
  ];
  const rows = [];
  for (const [name, make] of cases) {
    const { oldPath, newPath } = syntheticPair(opts.cacheDir, `worst-${name.split(' ')[0]}-${size}MB`, make);
    rows.push({ ...(await benchTool(ours, oldPath, newPath, opts.work, opts.runs)), name });
  }
  const random = rows[0];
  table(
    ['input', 'diff s', 'diff MB RSS', 'patch bytes', 'time vs random'],
    rows.map((r) => [r.name, fmtS(r.diff.seconds), fmtMB(r.diff.rssKiB), r.bytes, fmtRatio(r.diff.seconds / random.diff.seconds)]),
  );
  return rows;
}

export async function runRawSection(opts) {
  console.log('# Single files (raw format)');
  const work = join(opts.cacheDir, 'work');
  mkdirSync(work, { recursive: true });
  const o = { ...opts, work };
  try {
    const { results, base } = await realPair(o);
    const rate = await coreApplyRate(o);
    const scale = opts.skipScaling ? [] : await scaling(o);
    const worst = opts.skipWorst ? [] : await worstCases(o);

    const ours = results[0];
    const lines = [];
    if (base) {
      lines.push(['diff time vs bsdiff', '<= 0.50x', fmtRatio(ours.diff.seconds / base.diff.seconds)]);
      lines.push(['patch bytes vs bsdiff', '<= 1.00x', fmtRatio(ours.bytes / base.bytes)]);
    }
    lines.push(['apply output rate (core, in process)', '>= 200 MB/s', `${rate.toFixed(0)} MB/s`]);
    lines.push(['apply output rate (CLI, esbuild)', '>= 200 MB/s', `${(ours.newSize / MB / ours.patch.seconds).toFixed(0)} MB/s`]);
    if (scale.length > 1) {
      const [first, last] = [scale[0], scale[scale.length - 1]];
      lines.push([`diff time ${first.size} -> ${last.size} MB`, `<= ${((20 * last.size) / first.size / 16).toFixed(0)}x`, fmtRatio(last.diff.seconds / first.diff.seconds)]);
      lines.push([`apply output rate (CLI, ${last.size} MB)`, '>= 200 MB/s', `${(last.newSize / MB / last.patch.seconds).toFixed(0)} MB/s`]);
    }
    for (const w of worst.slice(1)) lines.push([`${w.name} diff time vs random`, '< 10x', fmtRatio(w.diff.seconds / worst[0].diff.seconds)]);
    console.log('\n## Targets (reported, not enforced)\n');
    table(['measure', 'target', 'measured'], lines);
    return { results, scale, worst };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
