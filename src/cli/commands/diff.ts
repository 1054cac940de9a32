/**
 * `docker-patcher diff OLD NEW PATCH`: a raw single-file patch (DPRAW v1).
 * Memory: both files whole, plus the WASM core's suffix array (about 5 bytes
 * per OLD byte) and the delta (about NEW size).
 */
import { Command, InvalidArgumentError } from 'commander';
import { loadCore } from '../../core/index.js';
import { encodeRawPatch } from '../../format/raw.js';
import { sha256 } from '../../format/checksum.js';
import { AtomicOutput, checkOneStdin, readInput, writeStdout } from '../io.js';
import { contextOf } from '../program.js';
import { formatBytes } from '../progress.js';

interface DiffOptions {
  level: number;
}

function parseLevel(value: string): number {
  const level = Number(value);
  if (!Number.isInteger(level) || level < 0 || level > 9) throw new InvalidArgumentError('must be an integer from 0 to 9');
  return level;
}

export function register(program: Command): void {
  program
    .command('diff')
    .description('make a patch that turns OLD into NEW (single files)')
    .argument('<OLD>', "the file the device already has ('-' = stdin)")
    .argument('<NEW>', "the file the patch must rebuild ('-' = stdin)")
    .argument('<PATCH>', "where to write the patch ('-' = stdout)")
    .option('-l, --level <0-9>', 'deflate level of the patch sections: 9 is smallest, 1 fastest', parseLevel, 9)
    .addHelpText(
      'after',
      `
The patch records the sizes and sha256 of OLD and NEW: \`patch\` refuses any
other OLD and writes NEW only after its sha256 matches.

Examples:
  $ docker-patcher diff app-1.0.bin app-1.1.bin app.patch
  $ cat app-1.1.bin | docker-patcher diff app-1.0.bin - - > app.patch`,
    )
    .action(async (oldPath: string, newPath: string, patchPath: string, options: DiffOptions, command: Command) => {
      await runDiff(oldPath, newPath, patchPath, options, command);
    });
}

async function runDiff(oldPath: string, newPath: string, patchPath: string, options: DiffOptions, command: Command): Promise<void> {
  const ctx = contextOf(command);
  checkOneStdin({ OLD: oldPath, NEW: newPath });
  ctx.progress.phase('reading');
  const old = await readInput(oldPath, 'OLD');
  const neu = await readInput(newPath, 'NEW');
  // Create the output before the long diff, so a bad PATCH path fails fast.
  const output = patchPath === '-' ? undefined : await AtomicOutput.create(patchPath, 'PATCH');
  try {
    ctx.progress.phase('diffing', neu.length);
    const core = await loadCore();
    const delta = core.diff(old, neu);
    ctx.progress.phase('compressing');
    const patch = encodeRawPatch(old, neu, delta, {
      level: options.level as 9,
      oldSha256: sha256(old),
      newSha256: sha256(neu),
    });
    ctx.progress.phase('writing', patch.length);
    if (output) {
      await output.write(patch);
      await output.commit();
    } else {
      await writeStdout(patch);
    }
    const share = neu.length > 0 ? ` (${((100 * patch.length) / neu.length).toFixed(2)}% of NEW)` : '';
    ctx.info(`${patchPath === '-' ? 'patch' : patchPath}: ${formatBytes(patch.length)}${share}`);
  } catch (err) {
    await output?.abort();
    throw err;
  } finally {
    ctx.progress.clear();
  }
}
