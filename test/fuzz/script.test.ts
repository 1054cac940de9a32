/**
 * scripts/fuzz.js (npm run fuzz): runs cases in child processes, counts
 * outcomes, names failing seeds, and turns an over-time case or a child over
 * the RSS watch into a failure (exit 1) rather than a stuck or dead run.
 */
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');

function fuzz(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts/fuzz.js'), ...args], { cwd: ROOT, timeout: 120_000, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('npm run fuzz', () => {
  it('runs N cases and prints the counts by outcome', () => {
    const r = fuzz(['--format', 'raw', '--cases', '40', '--seed', '7']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^raw: 40 cases \(of 40\) in .* seeds 7\.\.46, peak child RSS \d+ MB$/m);
    expect(r.stdout).toMatch(/error:BAD_PATCH\s+\d+/);
    expect(r.stdout).toMatch(/failures\s+0$/m);
  }, 120_000);

  it('a case over the time limit is a failure with its seed, and the run goes on', () => {
    const r = fuzz(['--format', 'raw', '--cases', '3', '--time-limit-ms', '1', '--quiet']);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/fail:hang: seeds 1 2 3/);
    expect(r.stdout).toMatch(/reproduce: npm run fuzz -- --format raw --seed 1 --cases 1/);
  }, 120_000);

  it('a child over the RSS watch is a failure, and a fresh child takes the next cases', () => {
    const r = fuzz(['--format', 'raw', '--cases', '4', '--rss-mb', '1', '--quiet']);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/^raw: 4 cases/m);
    expect(r.stdout).toMatch(/fail:rss\s+4/);
  }, 120_000);

  it('refuses an unknown format', () => {
    const r = fuzz(['--format', 'zip', '--cases', '1']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--format must be image, raw or classic/);
  });
});
