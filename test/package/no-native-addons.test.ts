// `npx docker-patcher` must run on any Node >= 20, arm64 or x86_64: nothing
// the package depends on at run time may be a native addon (or ship one).
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../fixtures/shared.js';

/** Files below `dir` (not into nested node_modules), up to a few levels. */
function files(dir: string, depth = 4): string[] {
  if (depth < 0) return [];
  return readdirSync(dir).flatMap((name) => {
    if (name === 'node_modules') return [];
    const path = join(dir, name);
    return statSync(path).isDirectory() ? [path + '/', ...files(path, depth - 1)] : [path];
  });
}

describe('run-time dependency tree', () => {
  const dirs = execFileSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: REPO_ROOT, encoding: 'utf8' })
    .trim()
    .split('\n')
    .slice(1); // the first line is the package itself

  it('holds the expected packages', () => {
    const names = dirs.map((d) => JSON.parse(readFileSync(join(d, 'package.json'), 'utf8')).name as string);
    expect(names).toEqual(expect.arrayContaining(['commander', 'fflate', 'seek-bzip']));
    // tar-stream is for the tests only (an independent reader and writer): the package writes tars itself.
    expect(names).not.toContain('tar-stream');
  });

  it('has no native addon: no gypfile, addon flag, binding.gyp, prebuilds or .node/.bare binaries', () => {
    const offenders: string[] = [];
    for (const dir of dirs) {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
      if (pkg.gypfile || pkg.addon || pkg.binary) offenders.push(`${pkg.name}: package.json marks an addon`);
      if (existsSync(join(dir, 'binding.gyp'))) offenders.push(`${pkg.name}: binding.gyp`);
      for (const file of files(dir)) {
        if (/\/prebuilds\/$|\.(node|bare)$/.test(file)) offenders.push(`${pkg.name}: ${file.slice(dir.length + 1)}`);
      }
    }
    expect(offenders).toEqual([]);
  });
});
