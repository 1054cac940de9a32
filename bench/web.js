// `npm run bench:web`: the browser page against the CLI on one image pair, in
// the same run. Prints numbers and ratios; never passes or fails.
//   --runs N        runs of each (median reported; default 3)
//   --pair FILE     an image pair .tar.zst (default $DP_SHARED_DIR or ../shared, images/nginx-shared.tar.zst)
//   --skip-sha256   leave out the sha256 MiB/s comparison
//   --only-sha256   only the sha256 MiB/s comparison
//   --help          this text
// Serves web/dist, drives Debian's Chromium (/usr/bin/chromium, never a
// downloaded one) with playwright-core: create in the page (timed there,
// createPatch only), then apply back (timed there: applyPatch with sha256 of
// the output). The CLI runs create (default, i.e. with its verify step, and
// --no-verify) and apply -o on the same pair. Then sha256 MiB/s in the page:
// the core's WASM, the old plain-JS one, and WebCrypto's one-shot digest.
// Needs a build (npm run build).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { chromium } from 'playwright-core';
import { median, run } from './measure.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CHROMIUM = '/usr/bin/chromium';
const TARGET = { create: 1.5, apply: 2 };
const STEP_TIMEOUT = 600_000;

function usage() {
  const lines = readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n');
  return lines.slice(0, lines.findIndex((l) => l.startsWith('import'))).map((l) => l.replace(/^\/\/ ?/, '')).join('\n');
}

function parseArgs(argv) {
  const opts = { runs: 3, pair: join(process.env.DP_SHARED_DIR ?? join(root, '../shared'), 'images/nginx-shared.tar.zst'), sha256: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--runs') opts.runs = Number(argv[++i]);
    else if (a === '--pair') opts.pair = resolve(argv[++i]);
    else if (a === '--skip-sha256') opts.sha256 = false;
    else if (a === '--only-sha256') opts.only = true;
    else if (a === '--help' || a === '-h') {
      console.log(usage());
      process.exit(0);
    } else {
      console.error(`bench:web: unknown option ${a} (see --help)`);
      process.exit(2);
    }
  }
  if (!Number.isInteger(opts.runs) || opts.runs < 1) {
    console.error('bench:web: --runs wants a whole number >= 1');
    process.exit(2);
  }
  return opts;
}

/** Unpack the pair; returns [old.tar, new.tar] (the two .tar files, old first by name: *-old, *-new). */
function unpack(pair, dir) {
  const r = spawnSync('sh', ['-c', 'zstd -q -d --long=28 -c "$0" | tar -xf - -C "$1"', pair, dir]);
  if (r.status !== 0) throw new Error(`unpacking ${pair} failed: ${r.stderr}`);
  const tars = readdirSync(dir).filter((f) => f.endsWith('.tar'));
  const old = tars.find((f) => /old/.test(f));
  const neu = tars.find((f) => /new/.test(f));
  if (!old || !neu) throw new Error(`${pair}: expected an *old*.tar and a *new*.tar inside`);
  return [join(dir, old), join(dir, neu)];
}

async function firstVisible(page, selectors) {
  const handle = await page.waitForFunction(
    (ids) => ids.find((id) => !document.querySelector(id)?.hidden) ?? false,
    selectors,
    { timeout: STEP_TIMEOUT, polling: 100 },
  );
  return handle.jsonValue();
}

/** One create + apply back in the page; returns milliseconds as the page timed them. */
async function pageRun(page, url, oldTar, newTar) {
  await page.goto(url);
  await page.setInputFiles('#old-file', oldTar);
  await page.setInputFiles('#new-file', newTar);
  await page.click('#create');
  if ((await firstVisible(page, ['#result', '#error'])) === '#error') throw new Error(`page: ${await page.textContent('#error')}`);
  const createMs = Number(await page.getAttribute('#time-create', 'data-ms'));
  const patchBytes = await page.evaluate(async () => (await fetch(document.getElementById('download-patch').href).then((r) => r.blob())).size);
  await page.click('#apply');
  if ((await firstVisible(page, ['#verify', '#error'])) === '#error') throw new Error(`page: ${await page.textContent('#error')}`);
  if ((await page.getAttribute('#verdict', 'data-state')) !== 'match') throw new Error('page: the rebuilt archive does not match');
  const applyMs = Number(await page.getAttribute('#time-apply', 'data-ms'));
  const engine = await page.textContent('#engine');
  return { createMs, applyMs, patchBytes, engine };
}

/** The CLI on the same pair: create (with and without its verify step) and apply -o. */
async function cliRun(oldTar, newTar, dir) {
  const cli = join(root, 'bin/docker-patcher.js');
  const patch = join(dir, 'cli.patch');
  const created = await run(['node', cli, 'create', '--quiet', oldTar, newTar, patch]);
  const createdNoVerify = await run(['node', cli, 'create', '--quiet', '--no-verify', oldTar, newTar, join(dir, 'cli-nv.patch')]);
  const id = JSON.parse(spawnSync('node', [cli, 'inspect', '--json', patch], { encoding: 'utf8' }).stdout).newImageId;
  const applied = await run(['node', cli, 'apply', '--quiet', oldTar, id, patch, '-o', join(dir, 'cli-out.tar')]);
  rmSync(join(dir, 'cli-out.tar'), { force: true });
  return { createMs: created.seconds * 1000, createNoVerifyMs: createdNoVerify.seconds * 1000, applyMs: applied.seconds * 1000 };
}

/** sha256 MiB/s in the page: a bundle of the core's hasher and the plain-JS one, served next to the page. */
async function sha256Speeds(page, url) {
  const bundle = await esbuild.build({
    stdin: {
      contents:
        "import { loadSha256 } from './core/index.ts';\n" +
        "import { setCoreUrl } from './core/load.browser.ts';\n" +
        "import { browserHasher } from './image/sha256.ts';\n" +
        'globalThis.shaBench = { loadSha256, setCoreUrl, browserHasher };\n',
      resolveDir: join(root, 'src'),
      loader: 'ts',
    },
    bundle: true,
    format: 'iife',
    platform: 'browser',
    write: false,
    logLevel: 'warning',
    plugins: [{
      name: 'browser-loader',
      setup(build) {
        build.onResolve({ filter: /load\.node\.js$/ }, (args) => ({ path: resolve(args.resolveDir, args.path.replace(/\.node\.js$/, '.browser.ts')) }));
      },
    }],
  });
  await page.route('**/sha-bench.js', (route) => route.fulfill({ contentType: 'text/javascript', body: bundle.outputFiles[0].text }));
  await page.goto(url);
  await page.addScriptTag({ url: 'sha-bench.js' });
  return page.evaluate(async () => {
    const { loadSha256, setCoreUrl, browserHasher } = globalThis.shaBench;
    setCoreUrl(new URL('diffcore.wasm', location.href));
    const core = await loadSha256();
    const bytes = new Uint8Array(64 << 20);
    for (let i = 0, x = 1; i < bytes.length; i++) bytes[i] = (x = (Math.imul(x, 1103515245) + 12345) | 0) >>> 24;
    const mib = bytes.length / (1 << 20);
    const incremental = (factory) => () => {
      const h = factory();
      for (let at = 0; at < bytes.length; at += 1 << 20) h.update(bytes.subarray(at, at + (1 << 20)));
      return h.digest();
    };
    const ways = { core: incremental(core), js: incremental(browserHasher), webcrypto: () => crypto.subtle.digest('SHA-256', bytes) };
    // Interleaved rounds, so each way sees the same machine load; the first round warms up.
    const ms = { core: [], js: [], webcrypto: [] };
    for (let round = 0; round < 6; round++) {
      for (const [name, fn] of Object.entries(ways)) {
        const t = performance.now();
        await fn();
        if (round > 0) ms[name].push(performance.now() - t);
      }
    }
    const mibps = (runs) => mib / (runs.sort((a, b) => a - b)[runs.length >> 1] / 1000);
    return { core: mibps(ms.core), js: mibps(ms.js), webcrypto: mibps(ms.webcrypto) };
  });
}

function printSpeeds(speeds) {
  console.log(`\nsha256 in Chromium, 64 MiB in 1 MiB updates (median of 5, interleaved): core WASM ${speeds.core.toFixed(0)} MiB/s, plain JS ${speeds.js.toFixed(0)} MiB/s (core/js ${(speeds.core / speeds.js).toFixed(2)}x); WebCrypto one-shot ${speeds.webcrypto.toFixed(0)} MiB/s`);
}

const fmtS = (ms) => `${(ms / 1000).toFixed(2)} s`;

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing (apt-get install chromium); this bench never downloads a browser`);
  if (!existsSync(join(root, 'web/dist/diff-worker.js')) || !existsSync(join(root, 'dist/cli/web-server.js'))) throw new Error('not built: run npm run build');
  const { startServer } = await import('../dist/cli/web-server.js');
  const dir = mkdtempSync(join(tmpdir(), 'dp-bench-web-'));
  const server = await startServer({ port: 0 });
  const context = await chromium.launchPersistentContext(join(dir, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    if (opts.only) {
      printSpeeds(await sha256Speeds(page, server.url));
      return;
    }
    const [oldTar, newTar] = unpack(opts.pair, dir);
    const pageRuns = [];
    const cliRuns = [];
    // Interleaved, so both see the same machine load.
    for (let i = 0; i < opts.runs; i++) {
      pageRuns.push(await pageRun(page, server.url, oldTar, newTar));
      cliRuns.push(await cliRun(oldTar, newTar, dir));
      const [p, c] = [pageRuns.at(-1), cliRuns.at(-1)];
      console.log(`run ${i + 1}: page create ${fmtS(p.createMs)} apply ${fmtS(p.applyMs)} | CLI create ${fmtS(c.createMs)} (--no-verify ${fmtS(c.createNoVerifyMs)}) apply ${fmtS(c.applyMs)}`);
    }
    const m = (runs, key) => median(runs.map((r) => r[key]));
    const page1 = { create: m(pageRuns, 'createMs'), apply: m(pageRuns, 'applyMs') };
    const cli = { create: m(cliRuns, 'createMs'), createNoVerify: m(cliRuns, 'createNoVerifyMs'), apply: m(cliRuns, 'applyMs') };
    console.log(`\n${opts.pair.split('/').pop()}, medians of ${opts.runs}; page: ${pageRuns[0].engine}, patch ${pageRuns[0].patchBytes} B`);
    console.log('              page       CLI        page/CLI   target');
    const row = (name, a, b, target) => console.log(`${name.padEnd(14)}${fmtS(a).padEnd(11)}${fmtS(b).padEnd(11)}${(a / b).toFixed(2).padEnd(11)}${target ? `<= ${target} ${a / b <= target ? 'met' : 'NOT met'}` : ''}`);
    row('create', page1.create, cli.create, TARGET.create);
    row('  (no-verify)', page1.create, cli.createNoVerify);
    row('apply', page1.apply, cli.apply, TARGET.apply);
    if (opts.sha256) printSpeeds(await sha256Speeds(page, server.url));
  } finally {
    await context.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(`bench:web: ${err.message}`);
  process.exit(1);
});
