/** Helpers for CLI tests: build once, spawn `node bin/docker-patcher.js`, scratch dirs. */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { testTempDir } from '../temp-dirs.js';

export const ROOT = resolve(import.meta.dirname, '../..');
const BIN = join(ROOT, 'bin/docker-patcher.js');

/** The CLI runs from dist/, built once by test/global-setup.ts: fail loudly if it is not there. */
export function ensureBuilt(): void {
  for (const file of ['build/diffcore.wasm', 'dist/cli/main.js']) {
    if (!existsSync(join(ROOT, file))) throw new Error(`${file} is missing: run npm run build (test/global-setup.ts should have)`);
  }
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
  return testTempDir('dp-cli-');
}

/** Names in `dir`, to check that no output or temp file was left behind. */
export const listDir = (dir: string): string[] => readdirSync(dir).sort();
