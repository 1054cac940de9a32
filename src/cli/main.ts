/**
 * The CLI entry point: run the program, turn every failure into one stderr
 * line `docker-patcher: <message>` and an exit status from errors.ts.
 * Unexpected exceptions are bugs: say so, and point at --debug.
 */
import { CommanderError } from 'commander';
import { ErrorCode, exitStatus, PatcherError } from '../errors.js';
import { buildProgram } from './program.js';
import { isComplete, markComplete, removePendingOutputs } from './output.js';

function printError(message: string): void {
  process.stderr.write(`docker-patcher: ${message.split('\n')[0]}\n`);
}

/** What to do about it, where the message alone does not say. */
function withHint(err: PatcherError): string {
  if (err.code === ErrorCode.Docker && /cannot reach the daemon/.test(err.message)) {

    return `${err.message}: is it running? Name another with -H/--docker-host or DOCKER_HOST, or use archives and -o`;
  }
  return err.message;
}

/** Exit status for `err`, after reporting it on stderr. */
export function reportError(err: unknown, debug: boolean): number {
  if (err instanceof CommanderError) {
    // --help and --version end the run through here too, with exit code 0.
    if (err.exitCode === 0) return 0;
    if (err.code !== 'commander.help' && err.code !== 'commander.helpDisplayed') {
      printError(`${err.message.replace(/^error: /, '')} (see --help)`);
    }
    return exitStatus[ErrorCode.Usage];
  }
  if (err instanceof PatcherError) {
    printError(withHint(err));
    if (debug && err.stack) process.stderr.write(`${err.stack}\n`);
    return exitStatus[err.code] ?? 1;
  }
  const message = err instanceof Error ? err.message : String(err);
  printError(`internal error: ${message.split('\n')[0]} (run with --debug for details)`);
  if (debug && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  return 1;
}

/** The reader of our stdout went away (`... -o - | head -c 1000`). */
function isBrokenPipe(err: unknown): boolean {
  const e = err as { code?: string; cause?: { code?: string } } | undefined;
  return e?.code === 'EPIPE' || e?.cause?.code === 'EPIPE';
}

/**
 * End the run as cat or docker save do when their reader is gone: killed
 * by SIGPIPE, silently (the shell sees 141; `set -o pipefail` notices).
 * Node ignores SIGPIPE; dropping the last listener restores the default.
 */
function dieOfBrokenPipe(): never {
  removePendingOutputs();
  const noop = (): void => undefined;
  process.on('SIGPIPE', noop);
  process.off('SIGPIPE', noop);
  process.kill(process.pid, 'SIGPIPE');
  process.exit(128 + 13);
}

/**
 * Ctrl-C or SIGTERM: remove temp files and exit 130, unless the result is
 * already in place (then the run succeeded; exit 0). A second signal while
 * exiting changes nothing.
 */
function onSignal(): void {
  removePendingOutputs();
  if (isComplete()) process.exit(0);
  process.stderr.write('\n');
  printError('interrupted');
  process.exit(exitStatus[ErrorCode.Interrupted]);
}

export async function main(argv: string[] = process.argv): Promise<number> {
  const debug = argv.includes('--debug');
  const onStdoutError = (err: unknown): void => {
    if (isBrokenPipe(err)) dieOfBrokenPipe();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.stdout.on('error', onStdoutError);
  // The handlers stay until the process is gone: a signal while it winds
  // down after a successful run finds the run complete and exits 0.
  try {
    await buildProgram().parseAsync(argv);
    markComplete();
    return 0;
  } catch (err) {
    if (isBrokenPipe(err)) dieOfBrokenPipe();
    return reportError(err, debug);
  }
}
