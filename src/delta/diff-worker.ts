// Worker thread entry: a core of its own, one diff job per message.
import { parentPort } from 'node:worker_threads';
import { loadCore } from '../core/index.js';
import { runDiffJob, type DiffJob } from './diff-job.js';

const corePromise = loadCore();

parentPort!.on('message', async (job: DiffJob) => {
  try {
    const core = await corePromise;
    const payload = runDiffJob(core, job);
    parentPort!.postMessage({ payload, memory: core.memoryBytes() }, [payload.buffer as ArrayBuffer]);
  } catch (err) {
    const e = err as { code?: string; message?: string };
    parentPort!.postMessage({ error: { code: e.code, message: e.message ?? String(err) } });
  }
});
