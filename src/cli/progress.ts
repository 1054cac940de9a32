/**
 * Progress on stderr: one self-overwriting line with the phase and bytes
 * done, only when stderr is a terminal and --quiet is off, redrawn at most
 * every 100 ms so it never costs measurable time.
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
}

const SILENT: Progress = { phase() {}, update() {}, clear() {} };

/** Bytes in binary units up to GiB, as the CLI prints them: "6.1 MiB". */
export function formatBytes(n: number): string {
  return formatBytesIn(n, 'GiB');
}

export function createProgress(options: ProgressOptions = {}): Progress {
  const stream = options.stream ?? process.stderr;
  if (options.quiet || !stream.isTTY) return SILENT;
  const interval = options.intervalMs ?? 100;
  let name = '';
  let total: number | undefined;
  let last = 0;
  let shown = false;
  const draw = (done: number): void => {
    const amount = total ? `${formatBytes(done)} / ${formatBytes(total)} (${Math.floor((100 * done) / total)}%)` : formatBytes(done);
    stream.write(`\r\x1b[K${name} ${done > 0 || total ? amount : ''}`);
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
      if (shown) stream.write('\r\x1b[K');
      shown = false;
    },
  };
}
