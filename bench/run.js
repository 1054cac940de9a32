// `npm run bench`: prints numbers, never passes or fails.
//   --quick            small sizes, one run: a smoke test of the bench itself
//   --runs N           runs per measurement (median reported; default 3)
//   --sizes 8,32,128   scaling sizes in MB
//   --worst-size 64    size of the worst-case inputs in MB
//   --skip-scaling, --skip-worst
//   --images DIR       image pairs (*.tar.zst; default ../shared/images from the repo root)
//   --skip-images, --skip-synthetic, --skip-raw, --skip-bsdiff (bsdiff over whole archives: ~60 s, ~1.3 GB on nginx)
//   --skip-others      on image pairs, only ours, bsdiff and hdiffz (no xdelta3, zstd --patch-from)
//                      (hdiffz: HDiffPatch, built once into bench/.cache by bench/hdiffz.js when gcc,
//                      make and libzstd-dev are there; an hdiffz on PATH wins)
//   --skip-oci         the nginx pair as OCI archives made once by skopeo (gzip layers, pgzip)
//   --compressors      also the compressed-streams table (GNU gzip, zlib, pigz, Node, fflate levels 1-9;
//                      the pairs' layer blobs) through the exact deflate codec; --only-compressors: just that
//   --synthetic-size MB  the synthetic image (default 1024; --quick 256)
//   --help             this text
// Inputs are cached in bench/.cache (gitignored); the CLI must be built (npm run build).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runRawSection } from './raw.js';
import { runImageSection } from './images.js';
import { runSyntheticSection } from './synthetic.js';
import { runCompressorSection } from './compressors.js';
import { printCoreTargets } from './core-targets.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The option list at the top of this file, as --help prints it. */
function usage() {
  const lines = readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n');
  return lines.slice(0, lines.findIndex((l) => l.startsWith('import'))).map((l) => l.replace(/^\/\/ ?/, '')).join('\n');
}

function parseArgs(argv) {
  const opts = {
    quick: false,
    runs: 3,
    runsExplicit: false,
    sizes: [8, 32, 128],
    worstSize: 64,
    skipScaling: false,
    skipWorst: false,
    skipRaw: false,
    imagesDir: join(root, '../shared/images'),
    skipImages: false,
    skipSynthetic: false,
    skipBsdiff: false,
    skipOci: false,
    skipOthers: false,
    compressors: false,
    syntheticSizeMB: 1024,
  };
  let syntheticSizeGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => argv[++i];
    if (a === '--quick') Object.assign(opts, { quick: true, runs: opts.runsExplicit ? opts.runs : 1, sizes: [2, 8], worstSize: 8 });
    else if (a === '--runs') Object.assign(opts, { runs: Number(value()), runsExplicit: true });
    else if (a === '--sizes') opts.sizes = value().split(',').map(Number);
    else if (a === '--worst-size') opts.worstSize = Number(value());
    else if (a === '--skip-scaling') opts.skipScaling = true;
    else if (a === '--skip-worst') opts.skipWorst = true;
    else if (a === '--skip-raw') opts.skipRaw = true;
    else if (a === '--images') opts.imagesDir = resolve(value());
    else if (a === '--skip-images') opts.skipImages = true;
    else if (a === '--skip-synthetic') opts.skipSynthetic = true;
    else if (a === '--skip-bsdiff') opts.skipBsdiff = true;
    else if (a === '--skip-oci') opts.skipOci = true;
    else if (a === '--skip-others') opts.skipOthers = true;
    else if (a === '--compressors') opts.compressors = true;
    else if (a === '--only-compressors') Object.assign(opts, { compressors: true, skipRaw: true, skipImages: true, skipSynthetic: true });
    else if (a === '--synthetic-size') [opts.syntheticSizeMB, syntheticSizeGiven] = [Number(value()), true];
    else if (a === '--help' || a === '-h') {
      console.log(usage());
      process.exit(0);
    } else {
      console.error(`bench: unknown option ${a}\n\n${usage()}`);
      process.exit(2);
    }
  }
  if (opts.quick && !syntheticSizeGiven) opts.syntheticSizeMB = 256;
  return opts;
}

const opts = { ...parseArgs(process.argv.slice(2)), root, cacheDir: join(root, 'bench/.cache') };
if (!existsSync(join(root, 'dist/cli/main.js')) || !existsSync(join(root, 'build/diffcore.wasm'))) {
  console.error('bench: build first (npm run build)');
  process.exit(1);
}
mkdirSync(opts.cacheDir, { recursive: true });
// Others rebuild dist/ while they work: say which tree and which build was measured.
const git = spawnSync('git', ['describe', '--always', '--dirty'], { cwd: root, encoding: 'utf8' }).stdout?.trim() || 'no git';
const built = statSync(join(root, 'dist/cli/main.js')).mtime.toISOString().replace(/\.\d+Z$/, 'Z');
console.log(`docker-patcher bench, node ${process.version}, ${opts.quick ? 'quick' : 'full'} run; tree ${git}, dist built ${built}\n`);
const raw = opts.skipRaw ? undefined : await runRawSection(opts);
const pairs = opts.skipImages ? [] : await runImageSection(opts);
await printCoreTargets(opts, raw, pairs);
if (!opts.skipSynthetic) await runSyntheticSection(opts, pairs);
if (opts.compressors) await runCompressorSection(opts);
