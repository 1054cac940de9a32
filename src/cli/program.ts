/**
 * Builds the `docker-patcher` (alias `didiff`) commander program. Each
 * subcommand lives in commands/<name>.ts and exports `register(program)`;
 * add new ones to COMMANDS. Global options (--quiet, --debug) reach a
 * command's action through `contextOf(command)` (context.ts: commands
 * import it from there, so they need not import this file back).
 */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import * as diffCommand from './commands/diff.js';
import * as patchCommand from './commands/patch.js';
import * as serveCommand from './commands/serve.js';
import * as createCommand from './commands/create.js';
import * as applyCommand from './commands/apply.js';
import * as inspectCommand from './commands/inspect.js';
import * as verifyCommand from './commands/verify.js';
import * as demoCommand from './commands/demo.js';
import * as pushCommand from './commands/push.js';
import * as updateCommand from './commands/update.js';

export interface CommandModule {
  register(program: Command): void;
}

/** Subcommands, in the order `--help` lists them. */
export const COMMANDS: CommandModule[] = [createCommand, applyCommand, pushCommand, updateCommand, verifyCommand, inspectCommand, demoCommand, diffCommand, patchCommand, serveCommand];

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export function buildProgram(): Command {
  const program = new Command('docker-patcher')
    .description(
      'Compact binary patches between Docker images (and single files), applied exactly on the device.\n' +
        'Pure TypeScript + WebAssembly: runs wherever Node.js >= 20 does.',
    )
    .version(packageVersion(), '-V, --version', 'print the version and exit')
    .option('-q, --quiet', 'print nothing but errors (no progress, no summary)')
    .option('--debug', 'print stack traces with errors')
    .exitOverride()
    // main.ts prints errors as one `docker-patcher: ...` line.
    .configureOutput({ outputError: () => undefined });
  for (const command of COMMANDS) command.register(program);
  for (const sub of program.commands) sub.exitOverride().configureOutput({ outputError: () => undefined });
  return program;
}
