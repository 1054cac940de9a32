// Progress reports, throttled so a fast loop does not flood the callback.
import type { Phase, Progress } from './types.js';

export type Report = (phase: Phase, done: number, total: number, detail?: string) => void;

const INTERVAL_MS = 200;

export function progressReporter(onProgress?: (p: Progress) => void): Report {
  if (!onProgress) return () => {};
  let last = 0;
  let lastPhase: Phase | undefined;
  return (phase, done, total, detail) => {
    const now = Date.now();
    if (phase === lastPhase && now - last < INTERVAL_MS && done < total) return;
    last = now;
    lastPhase = phase;
    onProgress({ phase, done, total, detail });
  };
}
