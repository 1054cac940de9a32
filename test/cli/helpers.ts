/** Helpers for CLI tests: build once, spawn `node bin/docker-patcher.js`, scratch dirs. */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');
const BIN = join(ROOT, 'bin/docker-patcher.js');

/** Compile src -> dist (and the WASM core if it is missing): the CLI runs from dist. */
export function ensureBuilt(): void {
  if (!existsSync(join(ROOT, 'build/diffcore.wasm'))) execFileSync('npm', ['run', '--silent', 'build:wasm'], { cwd: ROOT, stdio: 'inherit' });
  execFileSync('npm', ['run', '--silent', 'build:ts'], { cwd: ROOT, stdio: 'inherit' });
}

export interface RunResult {
  status: number | null;
  stdout: Buffer;
  stderr: string;
}

export function cli(args: string[], input?: Uint8Array, cwd?: string): RunResult {
  const r = spawnSync(process.execPath, [BIN, ...args], { input, cwd, maxBuffer: 1 << 28, timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString() };
}

export function scratchDir(): string {
  return mkdtempSync(join(tmpdir(), 'dp-cli-'));
}

/** Names in `dir`, to check that no output or temp file was left behind. */
export const listDir = (dir: string): string[] => readdirSync(dir).sort();
