// `npm run bench`: prints numbers, never passes or fails.
//   --quick            small sizes, one run: a smoke test of the bench itself
//   --runs N           runs per measurement (median reported; default 3)
//   --sizes 8,32,128   scaling sizes in MB
//   --worst-size 64    size of the worst-case inputs in MB
//   --skip-scaling, --skip-worst
// Inputs are cached in bench/.cache (gitignored); the CLI must be built (npm run build).
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runRawSection } from './raw.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function parseArgs(argv) {
  const opts = { quick: false, runs: 3, sizes: [8, 32, 128], worstSize: 64, skipScaling: false, skipWorst: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => argv[++i];
    if (a === '--quick') Object.assign(opts, { quick: true, runs: 1, sizes: [2, 8], worstSize: 8 });
    else if (a === '--runs') opts.runs = Number(value());
    else if (a === '--sizes') opts.sizes = value().split(',').map(Number);
    else if (a === '--worst-size') opts.worstSize = Number(value());
    else if (a === '--skip-scaling') opts.skipScaling = true;
    else if (a === '--skip-worst') opts.skipWorst = true;
    else throw new Error(`unknown option ${a} (see the top of bench/run.js)`);
  }
  return opts;
}

const opts = { ...parseArgs(process.argv.slice(2)), root, cacheDir: join(root, 'bench/.cache') };
if (!existsSync(join(root, 'dist/cli/main.js')) || !existsSync(join(root, 'build/diffcore.wasm'))) {
  console.error('bench: build first (npm run build)');
  process.exit(1);
}
mkdirSync(opts.cacheDir, { recursive: true });
console.log(`docker-patcher bench, node ${process.version}, ${opts.quick ? 'quick' : 'full'} run\n`);
await runRawSection(opts);
