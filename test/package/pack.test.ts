// The npm tarball as a registry user gets it: packed from the current build
// (`--ignore-scripts`: prepack's full rebuild is .ci/run's job, not this
// test's), unpacked into a scratch project next to only the run-time
// dependencies, then used through its bin and its library entry.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../fixtures/shared.js';

interface PackResult {
  filename: string;
  files: { path: string }[];
}

/** Every file below `dir`, relative to it. */
function walk(dir: string, prefix = ''): string[] {
  return readdirSync(join(dir, prefix)).flatMap((name) => {
    const rel = prefix ? `${prefix}/${name}` : name;
    return statSync(join(dir, rel)).isDirectory() ? walk(dir, rel) : [rel];
  });
}

describe('npm package', () => {
  let scratch: string;
  let packed: PackResult;
  let pkgDir: string;

  beforeAll(() => {
    scratch = mkdtempSync(join(tmpdir(), 'dp-pack-'));
    const out = execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', scratch], { cwd: REPO_ROOT, encoding: 'utf8' });
    packed = (JSON.parse(out) as PackResult[])[0];
    const project = join(scratch, 'project');
    pkgDir = join(project, 'node_modules', 'docker-patcher');
    mkdirSync(pkgDir, { recursive: true });
    execFileSync('tar', ['-xzf', join(scratch, packed.filename), '-C', pkgDir, '--strip-components=1']);
    // Only what `npm ls --omit=dev` lists: a dev dependency needed at run time would show up as a failure below.
    const modules = join(REPO_ROOT, 'node_modules');
    const runtime = execFileSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim().split('\n').slice(1);
    // Top-level ones only; nested node_modules come along inside their parent.
    for (const name of runtime.map((dir) => dir.slice(modules.length + 1)).filter((name) => !name.includes('/node_modules/'))) {
      mkdirSync(dirname(join(project, 'node_modules', name)), { recursive: true });
      symlinkSync(join(modules, name), join(project, 'node_modules', name));
    }
  });

  afterAll(() => {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('holds the license, the built code, the WASM core and the web page', () => {
    const files = packed.files.map((f) => f.path);
    expect(files).toEqual(
      expect.arrayContaining([
        'LICENSE',
        'package.json',
        'README.md',
        'bin/docker-patcher.js',
        'dist/index.js',
        'dist/index.d.ts',
        'dist/node.js',
        'dist/cli/main.js',
        'build/diffcore.wasm',
        'web/dist/index.html',
        'web/dist/main.js',
        'web/dist/worker.js',
        'web/dist/diffcore.wasm',
      ]),
    );
    expect(readFileSync(join(pkgDir, 'LICENSE'), 'utf8')).toMatch(/^MIT License\n\nCopyright \(c\) \d{4} docker-patcher developers\n/);
    expect(files.filter((f) => f.startsWith('src/') || f.startsWith('test/'))).toEqual([]);
  });

  it('has no source map that names a file the package does not ship', () => {
    const missing: string[] = [];
    for (const rel of walk(pkgDir).filter((f) => f.endsWith('.map'))) {
      const map = JSON.parse(readFileSync(join(pkgDir, rel), 'utf8')) as { sources: string[]; sourceRoot?: string };
      for (const source of map.sources) {
        const at = resolve(pkgDir, dirname(rel), map.sourceRoot ?? '', source);
        if (!at.startsWith(pkgDir + '/') || !existsSync(at)) missing.push(`${rel} -> ${source}`);
      }
    }
    // Every compiled file's sourceMappingURL must name a shipped map too.
    for (const rel of walk(pkgDir).filter((f) => f.endsWith('.js'))) {
      const url = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(readFileSync(join(pkgDir, rel), 'utf8'))?.[1];
      if (url && !url.startsWith('data:') && !existsSync(resolve(pkgDir, dirname(rel), url))) missing.push(`${rel} -> ${url}`);
    }
    expect(missing).toEqual([]);
  });

  it('runs no script on install: it is built on prepack', () => {
    const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as { scripts?: Record<string, string> };
    const onInstall = ['preinstall', 'install', 'postinstall', 'prepare'].filter((name) => pkg.scripts?.[name] !== undefined);
    expect(onInstall).toEqual([]);
    expect(pkg.scripts?.prepack).toMatch(/npm run build/);
  });

  it('works when installed: the bin runs the demo, the library imports', () => {
    const project = dirname(dirname(pkgDir));
    const demo = spawnSync(process.execPath, [join(pkgDir, 'bin/docker-patcher.js'), 'demo'], { cwd: project, encoding: 'utf8', timeout: 60_000 });
    expect(demo.status, demo.stderr).toBe(0);
    expect(demo.stdout).toMatch(/byte for byte identical to the new archive/);
    const script = "import('docker-patcher').then((m) => console.log(typeof m.createPatch, typeof m.applyPatch)).then(() => import('docker-patcher/node')).then((n) => console.log(typeof n.fileSource))";
    const lib = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: project, encoding: 'utf8', timeout: 30_000 });
    expect(lib.stderr).toBe('');
    expect(lib.stdout).toBe('function function\nfunction\n');
  });

  it('names its tarball after the package', () => {
    expect(basename(packed.filename)).toMatch(/^docker-patcher-\d+\.\d+\.\d+\.tgz$/);
  });
});
