/**
 * The CLI entry point: run the program, turn every failure into one stderr
 * line `docker-patcher: <message>` and an exit status from errors.ts.
 * Unexpected exceptions are bugs: say so, and point at --debug.
 */
import { CommanderError } from 'commander';
import { ErrorCode, exitStatus, PatcherError } from '../errors.js';
import { buildProgram } from './program.js';
import { removePendingOutputs } from './io.js';

function printError(message: string): void {
  process.stderr.write(`docker-patcher: ${message.split('\n')[0]}\n`);
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
    printError(err.message);
    if (debug && err.stack) process.stderr.write(`${err.stack}\n`);
    return exitStatus[err.code] ?? 1;
  }
  const message = err instanceof Error ? err.message : String(err);
  printError(`internal error: ${message.split('\n')[0]} (run with --debug for details)`);
  if (debug && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  return 1;
}

export async function main(argv: string[] = process.argv): Promise<number> {
  const debug = argv.includes('--debug');
  const onInterrupt = (): void => {
    removePendingOutputs();
    process.stderr.write('\n');
    printError('interrupted');
    process.exit(exitStatus[ErrorCode.Interrupted]);
  };
  process.once('SIGINT', onInterrupt);
  process.once('SIGTERM', onInterrupt);
  try {
    await buildProgram().parseAsync(argv);
    return 0;
  } catch (err) {
    return reportError(err, debug);
  } finally {
    process.off('SIGINT', onInterrupt);
    process.off('SIGTERM', onInterrupt);
  }
}
