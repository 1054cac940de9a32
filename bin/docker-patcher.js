#!/usr/bin/env node
// Node 20 can deadlock at exit when a concurrent optimizing compile waits for
// a GC only the main thread can run (nodejs/node#54918): the process never
// ends and ignores SIGINT/SIGTERM. Turning concurrent recompilation off
// avoids it, but only at startup: v8.setFlagsFromString() is too late for the
// running isolate (checked with --trace-opt: compiles stay kConcurrent). So
// the CLI runs itself once more with the flag; this parent only waits.
//
// The run also gets a young generation of 1 MiB semi-spaces instead of V8's
// 16 MiB: the CLI's garbage is small objects around big typed arrays (kept
// outside the heap), and the larger nursery only held ~30 MB more of RSS
// (nginx pair, one core: create 150 -> 120 MB; apply 87 -> 85 MB, 1.50 vs
// 1.39 s, medians side by side). A --max-semi-space-size of the user's
// comes later on the command line and wins.
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';

const FLAG = '--no-concurrent-recompilation';
const SMALL_NURSERY = '--max-semi-space-size=1';
const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** Die of `signal` as the child did (default action), or exit 128+n if that does not take. */
function raise(signal) {
  const noop = () => undefined;
  process.on(signal, noop);
  // Dropping the last listener restores the default action (Node ignores SIGPIPE otherwise).
  process.removeAllListeners(signal);
  process.kill(process.pid, signal);
  process.exit(128 + (constants.signals[signal] ?? 0));
}

function relaunch() {
  const args = [FLAG, SMALL_NURSERY, ...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)];
  const child = spawn(process.execPath, args, { stdio: 'inherit' });
  // A terminal's Ctrl-C reaches both processes; the child tolerates the repeat.
  for (const signal of FORWARDED) process.on(signal, () => child.kill(signal));
  child.on('error', async () => {
    // Could not start a second node: run here, without the flag.
    for (const signal of FORWARDED) process.removeAllListeners(signal);
    await runHere();
  });
  child.on('exit', (code, signal) => (signal ? raise(signal) : process.exit(code ?? 1)));
}

async function runHere() {
  // A git checkout needs `npm run build` before the CLI exists (the npm
  // package ships it built); say so in one line rather than with a stack trace.
  let main;
  try {
    ({ main } = await import('../dist/cli/main.js'));
  } catch (err) {
    if (err?.code !== 'ERR_MODULE_NOT_FOUND' || !String(err.message).includes('dist/cli/main.js')) throw err;
    console.error('docker-patcher: not built yet: run `npm run build` in the docker-patcher checkout first');
    process.exit(1);
  }
  process.exitCode = await main(process.argv);
}

if (process.execArgv.includes(FLAG)) await runHere();
else relaunch();
