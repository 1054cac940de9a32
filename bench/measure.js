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

/**
 * Run argv; resolve { seconds, rssKiB, cpuSeconds } (cpuSeconds = user + sys
 * of the process and its waited-for children, from GNU time; NaN without
 * it). Rejects on a non-zero exit.
 */
export function run(argv) {
  const scratch = mkdtempSync(join(tmpdir(), 'dp-bench-'));
  const timeOut = join(scratch, 'time');
  const full = hasGnuTime ? [GNU_TIME, '-f', '%M %U %S', '-o', timeOut, ...argv] : argv;
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const child = spawn(full[0], full.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    let peak = 0;
    let cpuSeconds = NaN;
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
      if (hasGnuTime && existsSync(timeOut)) {
        const [maxKiB, user, sys] = readFileSync(timeOut, 'utf8').trim().split('\n').pop().split(' ').map(Number);
        [peak, cpuSeconds] = [maxKiB, user + sys];
      }
      rmSync(scratch, { recursive: true, force: true });
      if (code !== 0) reject(new Error(`${argv.join(' ')} exited ${code}: ${stderr.trim().slice(0, 300)}`));
      else resolve({ seconds, rssKiB: peak, cpuSeconds });
    });
  });
}

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/**
 * Medians of time and peak RSS over run() results, plus the spread:
 * { seconds, rssKiB, n, min: { seconds, rssKiB }, max: { seconds, rssKiB } }.
 */
export function summarize(results) {
  const pick = (k) => results.map((r) => r[k]);
  return {
    seconds: median(pick('seconds')),
    rssKiB: median(pick('rssKiB')),
    cpuSeconds: median(pick('cpuSeconds')),
    n: results.length,
    min: { seconds: Math.min(...pick('seconds')), rssKiB: Math.min(...pick('rssKiB')) },
    max: { seconds: Math.max(...pick('seconds')), rssKiB: Math.max(...pick('rssKiB')) },
  };
}

/**
 * Run `argv` `runs` times; medians of time and peak RSS (and the spread, see
 * summarize). `after(i)`, when given, runs after each run (e.g. to check an
 * output) and is not timed.
 */
export async function measure(argv, runs, after) {
  const results = [];
  for (let i = 0; i < runs; i++) {
    results.push(await run(argv));
    if (after) await after(i);
  }
  return summarize(results);
}

/** "1.23 (1.20-1.31)": a median with its min-max when there was more than one run. */
export function fmtSpread(m, key = 'seconds', fmt = fmtS) {
  const med = fmt(m[key]);
  if (!m.n || m.n < 2) return med;
  return `${med} (${fmt(m.min[key])}-${fmt(m.max[key])})`;
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
