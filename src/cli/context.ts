/** What every command's action gets from the global options (--quiet, --debug). */
import type { Command } from 'commander';
import { createProgress, type Progress } from './progress.js';

export interface CliContext {
  quiet: boolean;
  debug: boolean;
  progress: Progress;
  /** An informational line on stderr (suppressed by --quiet). */
  info(message: string): void;
}

export function contextOf(command: Command): CliContext {
  const { quiet = false, debug = false } = command.optsWithGlobals<{ quiet?: boolean; debug?: boolean }>();
  const progress = createProgress({ quiet });
  return {
    quiet,
    debug,
    progress,
    info(message) {
      if (quiet) return;
      progress.clear();
      process.stderr.write(`${message}\n`);
    },
  };
}
