/**
 * Progress on stderr: one self-overwriting line with the phase and bytes
 * done, only when stderr is a terminal and --quiet is off, redrawn at most
 * every 100 ms so it never costs measurable time. No escape sequences
 * under NO_COLOR (the line is overwritten with \r and spaces), and no
 * progress line at all on TERM=dumb, which may not even honour \r.
 */
import { formatBytes as formatBytesIn } from '../format/units.js';

export interface Progress {
  /** Start a phase; `total` in bytes if known. */
  phase(name: string, total?: number): void;
  /** Bytes done in the current phase. */
  update(done: number): void;
  /** Erase the line (call before printing anything else). */
  clear(): void;
}

export interface ProgressOptions {
  quiet?: boolean;
  stream?: NodeJS.WriteStream;
  /** Minimum time between redraws, in ms (default 100). */
  intervalMs?: number;
  /** Where TERM and NO_COLOR are read (default process.env). */
  env?: Record<string, string | undefined>;
}

const SILENT: Progress = { phase() {}, update() {}, clear() {} };

/** Bytes in binary units up to GiB, as the CLI prints them: "6.1 MiB". */
export function formatBytes(n: number): string {
  return formatBytesIn(n, 'GiB');
}

export function createProgress(options: ProgressOptions = {}): Progress {
  const stream = options.stream ?? process.stderr;
  const env = options.env ?? process.env;
  if (options.quiet || !stream.isTTY || env.TERM === 'dumb') return SILENT;
  const interval = options.intervalMs ?? 100;
  // NO_COLOR: plain \r and padding instead of "erase line".
  const plain = env.NO_COLOR !== undefined && env.NO_COLOR !== '';
  let name = '';
  let total: number | undefined;
  let last = 0;
  let shown = false;
  let width = 0;
  const put = (text: string): void => {
    stream.write(plain ? `\r${text.padEnd(width)}` : `\r\x1b[K${text}`);
    width = text.length;
  };
  const draw = (done: number): void => {
    const amount = total ? `${formatBytes(done)} / ${formatBytes(total)} (${Math.floor((100 * done) / total)}%)` : formatBytes(done);
    put(`${name} ${done > 0 || total ? amount : ''}`);
    shown = true;
  };
  return {
    phase(next, size) {
      name = next;
      total = size;
      last = Date.now();
      draw(0);
    },
    update(done) {
      const now = Date.now();
      if (now - last < interval) return;
      last = now;
      draw(done);
    },
    clear() {
      if (shown) stream.write(plain ? `\r${' '.repeat(width)}\r` : '\r\x1b[K');
      shown = false;
      width = 0;
    },
  };
}
