// Browser (and fallback): diff windows one at a time on this thread, which
// in the demo is already a Web Worker.
import { loadCore, type DiffCore } from '../core/index.js';
import { runDiffJob, type DiffJob, type DiffRunner } from './diff-job.js';

export async function createRunner(_workers: number): Promise<DiffRunner> {
  return inlineRunner(await loadCore());
}

export function inlineRunner(core: DiffCore): DiffRunner {
  let peak = 0;
  return {
    async run(job: DiffJob) {
      const payload = runDiffJob(core, job);
      peak = Math.max(peak, core.memoryBytes());
      return payload;
    },
    peakMemory: () => peak,
    async close() {},
  };
}
