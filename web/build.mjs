// Builds the browser demo into web/dist: bundles main.ts (page),
// worker.ts (Web Worker), diff-worker.ts (the module workers that
// worker.ts diffs windows on) and hash-worker.ts (where it hashes the
// rebuilt archive) with esbuild, copies index.html, style.css
// and the WASM core. Run by `npm run build:web` (after build:wasm).
//
// Browser swaps, done here rather than by editing the library:
//   any X.node.ts with an X.browser.ts next to it -> X.browser.ts
//     (src/core/load.node.ts: fetch diffcore.wasm; src/delta/runner.node.ts:
//     diff windows on the worker's own thread)
// and the build FAILS if any Node built-in (node:* or a bare 'fs', 'crypto'…)
// is still reachable, printing the import chain that pulls it in.
//
// No source maps by default: the npm package ships web/dist but not the
// sources a map would name. `node web/build.mjs --sourcemap` for debugging.
import { existsSync } from 'node:fs';
import { copyFile, mkdir, rm, stat } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const webDir = dirname(fileURLToPath(import.meta.url));
const repoDir = resolve(webDir, '..');
const outDir = resolve(webDir, 'dist');
const wasmFile = resolve(repoDir, 'build/diffcore.wasm');
const sourcemap = process.argv.includes('--sourcemap');

/** Files replaced in the browser bundle besides the X.node.ts -> X.browser.ts rule: original -> replacement. */
const SWAPS = new Map();

/** The browser replacement for a resolved source file, or undefined. */
function browserSwap(file) {
  if (SWAPS.has(file)) return SWAPS.get(file);
  const sibling = file.replace(/\.node\.ts$/, '.browser.ts');
  return sibling !== file && existsSync(sibling) ? sibling : undefined;
}

const NODE_BUILTINS = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]));

/** Redirect the swapped files; relative '.js' imports name the '.ts' sources. */
const browserSwaps = {
  name: 'browser-swaps',
  setup(build) {
    build.onResolve({ filter: /^\.\.?\/.*\.js$/ }, (args) => {
      const target = resolve(args.resolveDir, args.path).replace(/\.js$/, '.ts');
      const swap = browserSwap(target);
      return swap ? { path: swap } : undefined;
    });
  },
};

/** Keep Node built-ins out of the bundle (marked external) so the check below can name their importers. */
const nodeBuiltins = {
  name: 'node-builtins',
  setup(build) {
    build.onResolve({ filter: /.*/ }, (args) =>
      NODE_BUILTINS.has(args.path) ? { path: args.path, external: true } : undefined,
    );
  },
};

/** Import chains from an entry point to every input that imports a Node built-in. */
function nodeImportChains(metafile) {
  const importedBy = new Map();
  for (const [file, input] of Object.entries(metafile.inputs)) {
    for (const imp of input.imports) {
      if (!importedBy.has(imp.path)) importedBy.set(imp.path, file);
    }
  }
  const chains = [];
  for (const [file, input] of Object.entries(metafile.inputs)) {
    for (const imp of input.imports) {
      if (!NODE_BUILTINS.has(imp.path)) continue;
      const chain = [imp.path, file];
      for (let at = importedBy.get(file); at && !chain.includes(at); at = importedBy.get(at)) chain.push(at);
      chains.push(chain.reverse().join(' -> '));
    }
  }
  return chains;
}

async function main() {
  try {
    await stat(wasmFile);
  } catch {
    throw new Error(`${relative(repoDir, wasmFile)} is missing: run npm run build:wasm first`);
  }
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  const common = {
    absWorkingDir: repoDir,
    outdir: outDir,
    bundle: true,
    platform: 'browser',
    target: ['es2022', 'chrome100', 'firefox100', 'safari16'],
    sourcemap,
    minify: true,
    metafile: true,
    logLevel: 'warning',
    plugins: [browserSwaps, nodeBuiltins],
  };
  // Classic scripts and a classic worker: the widest browser support. The
  // diff workers are module workers (the page falls back to one core on
  // this thread where those cannot start).
  const classic = await esbuild.build({ ...common, entryPoints: { main: 'web/main.ts', worker: 'web/worker.ts' }, format: 'iife' });
  const modules = await esbuild.build({ ...common, entryPoints: { 'diff-worker': 'web/diff-worker.ts', 'hash-worker': 'web/hash-worker.ts' }, format: 'esm' });
  const result = {
    metafile: {
      inputs: { ...classic.metafile.inputs, ...modules.metafile.inputs },
      outputs: { ...classic.metafile.outputs, ...modules.metafile.outputs },
    },
  };
  const chains = nodeImportChains(result.metafile);
  if (chains.length > 0) {
    await rm(outDir, { recursive: true, force: true });
    throw new Error(`Node built-ins reached the browser bundle:\n  ${chains.join('\n  ')}`);
  }
  for (const file of ['index.html', 'style.css']) await copyFile(resolve(webDir, file), resolve(outDir, file));
  await copyFile(wasmFile, resolve(outDir, 'diffcore.wasm'));
  for (const [file, output] of Object.entries(result.metafile.outputs)) {
    if (!file.endsWith('.map')) console.log(`${relative(repoDir, resolve(repoDir, file))}  ${(output.bytes / 1024).toFixed(0)} KiB`);
  }
}

main().catch((err) => {
  console.error(`build:web: ${err.message}`);
  process.exit(1);
});
