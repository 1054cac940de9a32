// Measuring tools as child processes: wall time, peak RSS (via GNU time's
// %M when /usr/bin/time exists, else by polling /proc/<pid>/status), and
// helpers for medians and the printed tables. Numbers only: nothing here
// passes or fails.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const GNU_TIME = '/usr/bin/time';
const hasGnuTime = existsSync(GNU_TIME) && spawnSync(GNU_TIME, ['-f', '%M', 'true']).status === 0;

/** Is `cmd` runnable from PATH? */
export function onPath(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

/** Run argv; resolve { seconds, rssKiB }. Rejects on a non-zero exit. */
export function run(argv) {
  const scratch = mkdtempSync(join(tmpdir(), 'dp-bench-'));
  const timeOut = join(scratch, 'time');
  const full = hasGnuTime ? [GNU_TIME, '-f', '%M', '-o', timeOut, ...argv] : argv;
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const child = spawn(full[0], full.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    let peak = 0;
    const poll = hasGnuTime
      ? undefined
      : setInterval(() => {
          try {
            const m = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
            if (m) peak = Math.max(peak, Number(m[1]));
          } catch {
            // process gone
          }
        }, 20);
    child.on('close', (code) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (poll) clearInterval(poll);
      if (hasGnuTime && existsSync(timeOut)) peak = Number(readFileSync(timeOut, 'utf8').trim().split('\n').pop());
      rmSync(scratch, { recursive: true, force: true });
      if (code !== 0) reject(new Error(`${argv.join(' ')} exited ${code}: ${stderr.trim().slice(0, 300)}`));
      else resolve({ seconds, rssKiB: peak });
    });
  });
}

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** Run `argv` `runs` times; medians of time and peak RSS. */
export async function measure(argv, runs) {
  const results = [];
  for (let i = 0; i < runs; i++) results.push(await run(argv));
  return { seconds: median(results.map((r) => r.seconds)), rssKiB: median(results.map((r) => r.rssKiB)) };
}

export const fmtMB = (kib) => (kib / 1024).toFixed(0);
export const fmtS = (s) => s.toFixed(2);
export const fmtRatio = (x) => (Number.isFinite(x) ? `${x.toFixed(2)}x` : '-');

/** Print rows (arrays of strings) as an aligned table with a header row. */
export function table(header, rows) {
  const all = [header, ...rows];
  const widths = header.map((_, c) => Math.max(...all.map((r) => String(r[c]).length)));
  const line = (r) => r.map((cell, c) => (c === 0 ? String(cell).padEnd(widths[c]) : String(cell).padStart(widths[c]))).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(line(r));
}
