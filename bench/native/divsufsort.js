// Native divsufsort's suffix sort speed, as a reference beside ours: the C
// timer next to this file, built once into the bench cache with gcc and
// Debian's libdivsufsort-dev. Optional: '-' when either is missing.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const source = join(dirname(fileURLToPath(import.meta.url)), 'divsufsort-time.c');

/** The timer's path, built into `cacheDir` when stale; null when gcc or libdivsufsort is missing. */
function nativeTimer(cacheDir) {
  const exe = join(cacheDir, 'divsufsort-time');
  try {
    if (!existsSync(exe) || statSync(exe).mtimeMs < statSync(source).mtimeMs) {
      mkdirSync(cacheDir, { recursive: true });
      execFileSync('gcc', ['-O2', '-o', exe, source, '-ldivsufsort'], { stdio: 'ignore' });
    }
    return exe;
  } catch {
    return null;
  }
}

/** divsufsort's MB/s of CPU time on `text` (median of `runs`), as printed; '-' without the timer. */
export function divsufsortRate(cacheDir, text, runs) {
  const exe = nativeTimer(cacheDir);
  if (!exe) return '-';
  const file = join(cacheDir, 'divsufsort-input.bin');
  try {
    writeFileSync(file, text);
    const out = execFileSync(exe, [file, String(runs)], { encoding: 'utf8' });
    return out.match(/MB\/s ([\d.]+)/)?.[1] ?? '-';
  } catch {
    return '-';
  } finally {
    rmSync(file, { force: true });
  }
}
