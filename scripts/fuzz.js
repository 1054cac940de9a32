#!/usr/bin/env node
/**
 * npm run fuzz -- --cases N [--format image|raw|classic] [--seed S]
 *                 [--time-limit-ms T] [--rss-mb M] [--workers W] [--json FILE]
 *
 * Runs fuzz cases (test/fuzz/) in child processes, so a case that hangs is
 * killed at the time limit and one whose process grows past the RSS watch is
 * stopped; either counts as a failure and the child is replaced. Case i of
 * a run has seed S + i (default S = 1): rerun one with --seed SEED --cases 1.
 * Without --format, every format runs N cases. Prints the counts by outcome
 * (error:CODE, identical, wrong-output-unanchored, same-image-different-bytes,
 * same-image-other-tags,
 * fail:KIND) and the failing seeds; exit status 1 when any case failed.
 *
 * The cases use dist/ (npm run build first); test/fuzz/*.ts is bundled on
 * the fly with esbuild, its imports of src/ pointed at dist/.
 */
import { fork } from 'node:child_process';
import { mkdirSync, readFileSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The comment at the top of this file, as --help prints it. */
function usage() {
  const text = readFileSync(fileURLToPath(import.meta.url), 'utf8');
  return text.slice(text.indexOf('/**') + 3, text.indexOf('*/')).replace(/^ \* ?/gm, '').trim();
}

let parsed;
try {
  parsed = parseArgs({
    options: {
      help: { type: 'boolean', short: 'h', default: false },
      cases: { type: 'string', default: '1000' },
      format: { type: 'string' },
      seed: { type: 'string', default: '1' },
      'time-limit-ms': { type: 'string', default: '30000' },
      'rss-mb': { type: 'string', default: '768' },
      workers: { type: 'string', default: '1' },
      json: { type: 'string' },
      quiet: { type: 'boolean', default: false },
    },
  });
} catch (err) {
  console.error(`fuzz: ${err.message.split('\n')[0]}\n\n${usage()}`);
  process.exit(2);
}
const { values } = parsed;
if (values.help) {
  console.log(usage());
  process.exit(0);
}
const int = (name) => {
  const v = Number(values[name]);
  if (!Number.isSafeInteger(v) || v < 0) {
    console.error(`fuzz: --${name} must be a non-negative integer, got ${values[name]}`);
    process.exit(2);
  }
  return v;
};
const cases = int('cases');
const firstSeed = int('seed');
const timeLimitMs = Math.max(1, int('time-limit-ms'));
const rssLimitKb = int('rss-mb') * 1024;
const workers = Math.max(1, int('workers'));
const formats = values.format ? values.format.split(',') : ['image', 'raw', 'classic'];
for (const f of formats) {
  if (!['image', 'raw', 'classic'].includes(f)) {
    console.error(`fuzz: --format must be image, raw or classic, got ${f}`);
    process.exit(2);
  }
}
if (!existsSync(join(ROOT, 'dist/delta/apply.js')) || !existsSync(join(ROOT, 'build/diffcore.wasm'))) {
  console.error('fuzz: dist/ or build/diffcore.wasm is missing: run npm run build');
  process.exit(2);
}

// test/fixtures/shared.ts finds ../shared from its own location, which a bundle moves.
process.env.DP_SHARED_DIR ??= resolve(ROOT, '..', 'shared');

const work = join(tmpdir(), `dp-fuzz-${process.getuid?.() ?? 'u'}`);
mkdirSync(work, { recursive: true });

/** Bundle test/fuzz/child.ts; src/ imports go to dist/ (which finds build/diffcore.wasm as usual). */
async function bundle() {
  // Inside the repository, so the bundle's bare imports (fflate, ...) resolve from node_modules.
  const outDir = join(ROOT, 'node_modules/.cache/dp-fuzz');
  mkdirSync(outDir, { recursive: true });
  const outfile = join(outDir, `child-${process.pid}.mjs`);
  const srcDir = join(ROOT, 'src') + '/';
  await build({
    entryPoints: [join(ROOT, 'test/fuzz/child.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'error',
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
    plugins: [
      {
        name: 'src-to-dist',
        setup(b) {
          b.onResolve({ filter: /^vitest$/ }, () => ({ path: 'vitest', namespace: 'stub' }));
          b.onLoad({ filter: /.*/, namespace: 'stub' }, () => ({ contents: 'export const expect = () => { throw new Error("vitest expect outside a test"); };', loader: 'js' }));
          b.onResolve({ filter: /^\./ }, (args) => {
            const abs = resolve(args.resolveDir, args.path);
            if (!abs.startsWith(srcDir)) return undefined;
            return { path: join(ROOT, 'dist', relative(srcDir, abs)).replace(/\.ts$/, '.js'), external: true };
          });
          b.onResolve({ filter: /^[^./]/ }, (args) => (args.path.startsWith('node:') ? undefined : { path: args.path, external: true }));
        },
      },
    ],
  });
  return outfile;
}

function vmRssKb(pid) {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Run `count` cases of `format` over `workers` children; returns the tally. */
async function runFormat(childFile, format, count) {
  // Keyed by the build: a patch cached from another build of create would fuzz that build's format.
  const cacheDir = join(work, 'cache', `${format}-${Math.floor(statSync(join(ROOT, 'dist/delta/create.js')).mtimeMs)}`);
  const tally = (running[format] = { cases: 0, counts: {}, msByOutcome: {}, failures: [], notes: [], ms: 0, maxRssKb: 0 });
  let next = firstSeed;
  const end = firstSeed + count;
  const started = Date.now();
  let lastReport = started;

  function recordResult(seed, r) {
    tally.cases++;
    tally.counts[r.outcome] = (tally.counts[r.outcome] ?? 0) + 1;
    if (r.ms !== undefined) tally.msByOutcome[r.outcome] = (tally.msByOutcome[r.outcome] ?? 0) + r.ms;
    if (r.maxRssKb > tally.maxRssKb) tally.maxRssKb = r.maxRssKb;
    if (r.outcome.startsWith('fail:')) {
      tally.failures.push({ seed, outcome: r.outcome, what: r.what, detail: r.detail });
      if (!values.quiet) console.error(`  FAIL ${format} seed ${seed}: ${r.outcome}: ${r.what}: ${r.detail ?? ''}`);
    } else if (r.outcome.startsWith('same-image-') && tally.notes.length < 50) tally.notes.push({ seed, outcome: r.outcome, what: r.what, detail: r.detail });
    const now = Date.now();
    tally.ms = now - started;
    if (now - lastReport > 30_000) {
      lastReport = now;
      if (!values.quiet) console.error(`  ${format}: ${tally.cases}/${count} cases, ${((tally.cases * 1000) / (now - started)).toFixed(1)}/s`);
      saveJson();
    }
  }

  /** One child: setup, then cases until none are left. Restarted after a kill. */
  function startChild() {
    return new Promise((resolveChild, rejectChild) => {
      const child = fork(childFile, [format, cacheDir], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: ['--no-warnings'] });
      let current;
      let timer;
      let killedFor;
      const poll = setInterval(() => {
        if (current !== undefined && vmRssKb(child.pid) > rssLimitKb) kill('fail:rss', `RSS ${vmRssKb(child.pid)} KB over the watch of ${rssLimitKb} KB`);
      }, 100);
      function kill(outcome, detail) {
        if (killedFor) return;
        killedFor = { outcome, detail };
        child.kill('SIGKILL');
      }
      function send() {
        if (next >= end) {
          current = undefined;
          child.disconnect();
          return;
        }
        current = next++;
        child.send({ seed: current, timeLimitMs });
        // In-process limit first (async hangs answer fail:hang); the kill catches synchronous ones.
        timer = setTimeout(() => kill('fail:hang', `no answer within ${timeLimitMs * 2} ms (killed)`), timeLimitMs * 2 + 5000);
      }
      let ready = false;
      child.on('message', (m) => {
        if (m.ready) {
          ready = true;
          send();
          return;
        }
        clearTimeout(timer);
        if (m.maxRssKb > rssLimitKb) {
          recordResult(m.seed, { outcome: 'fail:rss', what: m.what, detail: `peak RSS ${m.maxRssKb} KB over the watch of ${rssLimitKb} KB (${m.outcome})` });
          killedFor = { restart: true };
          child.kill('SIGKILL');
          return;
        }
        recordResult(m.seed, m);
        send();
      });
      child.on('exit', (code, signal) => {
        clearInterval(poll);
        clearTimeout(timer);
        if (!ready) return rejectChild(new Error(`the ${format} child failed during setup (exit ${code ?? signal})`));
        if (killedFor?.outcome) recordResult(current, { outcome: killedFor.outcome, what: '(killed; rerun the seed to see the mutation)', detail: killedFor.detail });
        else if (!killedFor && current !== undefined) recordResult(current, { outcome: 'fail:crash', what: '(child died)', detail: `child exited with ${code ?? signal}` });
        if (next < end) startChild().then(resolveChild, rejectChild);
        else resolveChild();
      });
    });
  }

  // The first child prepares the cache (unpacking, creating the patch); the rest start after.
  await new Promise((res, rej) => {
    const c = fork(childFile, [format, cacheDir], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    c.on('message', (m) => m.ready && c.disconnect());
    c.on('exit', (code) => (code === 0 ? res() : rej(new Error(`the ${format} child failed during setup (exit ${code})`))));
  });
  await Promise.all(Array.from({ length: Math.min(workers, Math.max(1, count)) }, () => startChild()));
  tally.ms = Date.now() - started;
  return tally;
}

function report(format, t) {
  const lines = [`${format}: ${t.cases} cases (of ${cases}) in ${(t.ms / 1000).toFixed(1)} s (${((t.cases * 1000) / Math.max(1, t.ms)).toFixed(1)} cases/s), seeds ${firstSeed}..${firstSeed + (t.cases < cases ? t.cases : cases) - 1}, peak child RSS ${(t.maxRssKb / 1024).toFixed(0)} MB`];
  const keys = Object.keys(t.counts).sort((a, b) => t.counts[b] - t.counts[a]);
  for (const k of keys) lines.push(`  ${k.padEnd(30)} ${String(t.counts[k]).padStart(8)}${t.msByOutcome[k] ? `   (mean ${(t.msByOutcome[k] / t.counts[k]).toFixed(0)} ms)` : ''}`);
  const failed = t.failures.length;
  lines.push(`  ${'failures'.padEnd(30)} ${String(failed).padStart(8)}`);
  const byKind = {};
  for (const f of t.failures) (byKind[f.outcome] ??= []).push(f.seed);
  for (const [kind, seeds] of Object.entries(byKind)) lines.push(`    ${kind}: seeds ${seeds.slice(0, 30).join(' ')}${seeds.length > 30 ? ' ...' : ''}`);
  for (const f of t.failures.slice(0, 20)) lines.push(`    seed ${f.seed} ${f.outcome}: ${f.what}: ${f.detail ?? ''}`);
  if (failed) lines.push(`  reproduce: npm run fuzz -- --format ${format} --seed ${t.failures[0].seed} --cases 1`);
  for (const n of t.notes.slice(0, 10)) lines.push(`  note: seed ${n.seed} ${n.outcome}: ${n.what}: ${n.detail}`);
  console.log(lines.join('\n'));
}

const results = {};
const running = results;
function saveJson() {
  if (values.json) writeFileSync(values.json, JSON.stringify({ firstSeed, cases, timeLimitMs, rssMb: rssLimitKb / 1024, results }, null, 2));
}
// Stopped early (Ctrl-C, a deadline): report what ran.
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    console.log(`stopped by ${signal}; partial counts:`);
    for (const [format, t] of Object.entries(results)) report(format, t);
    saveJson();
    process.exit(130);
  });
}
const childFile = await bundle();
let anyFailed = false;
for (const format of formats) {
  const t = await runFormat(childFile, format, cases);
  results[format] = t;
  report(format, t);
  if (t.failures.length > 0) anyFailed = true;
}
saveJson();
process.exit(anyFailed ? 1 : 0);
