/**
 * The fuzz script's child process (scripts/fuzz.js bundles this file): set
 * up one format's inputs, then run the cases the parent sends, one at a
 * time, answering with the outcome and this process's peak RSS. The parent
 * kills a child that overruns the time limit or the RSS watch.
 */
import { loadTarget, type Format } from './runner.js';

const format = process.argv[2] as Format;
const cacheDir = process.argv[3];

async function main(): Promise<void> {
  const target = await loadTarget(format, cacheDir);
  process.on('message', async (msg: { seed: number; timeLimitMs: number }) => {
    const started = Date.now();
    let result;
    try {
      result = await target.run(msg.seed, msg.timeLimitMs);
    } catch (err) {
      result = { outcome: 'fail:crash', what: 'runner', detail: String((err as Error)?.stack ?? err).split('\n').slice(0, 3).join(' | ') };
    }
    process.send!({ seed: msg.seed, ...result, ms: Date.now() - started, maxRssKb: process.resourceUsage().maxRSS });
  });
  // The parent gone (or done): stop.
  process.on('disconnect', () => process.exit(0));
  process.send!({ ready: true });
}

main().catch((err) => {
  process.stderr.write(`fuzz child setup failed: ${String((err as Error)?.stack ?? err)}\n`);
  process.exit(3);
});
