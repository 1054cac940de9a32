/**
 * `docker-patcher diff OLD NEW PATCH`: a raw single-file patch (DPRAW v1).
 * Memory: the WASM core's copy of both files, its suffix array (about 5
 * bytes per OLD byte in all) and the delta (about 2x NEW size): files are
 * read straight into the core, so nothing else holds them.
 */
import { Command, InvalidArgumentError } from 'commander';
import { codeFiltersOf, loadCore } from '../../core/index.js';
import { encodeRawPatchOf } from '../../format/single/raw.js';
import { sha256 } from '../../format/single/checksum.js';
import { checkOneStdin, fileSize, readInput, readInto } from '../io.js';
import { openOutput, writeOutput } from '../output.js';
import { contextOf } from '../context.js';
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
other OLD and writes NEW only after its sha256 matches. PATCH is written to
a temporary file and renamed into place (a symlink's target is replaced);
a device or FIFO is written directly; PATCH may not be OLD or NEW.

Examples:
  $ docker-patcher diff app-1.0.bin app-1.1.bin app.patch
  $ cat app-1.1.bin | docker-patcher diff app-1.0.bin - - > app.patch`,
    )
    .action(async (oldPath: string, newPath: string, patchPath: string, options: DiffOptions, command: Command) => {
      await runDiff(oldPath, newPath, patchPath, options, command);
    });
}

/**
 * Read both inputs, hash them and diff them; they go out of scope on return,
 * so only the core's copy (and its delta, as views) stays in memory while
 * the patch is encoded.
 */
async function diffInputs(oldPath: string, newPath: string, ctx: ReturnType<typeof contextOf>) {
  ctx.progress.phase('reading');
  const core = await loadCore();
  let prepared;
  if (oldPath !== '-' && newPath !== '-') {
    // Files: read straight into the core's memory, so each is held once.
    prepared = core.prepareDiff(await fileSize(oldPath, 'OLD'), await fileSize(newPath, 'NEW'));
    await readInto(oldPath, 'OLD', prepared.old);
    await readInto(newPath, 'NEW', prepared.neu);
  } else {
    const old = await readInput(oldPath, 'OLD');
    const neu = await readInput(newPath, 'NEW');
    prepared = core.prepareDiff(old.length, neu.length);
    prepared.old.set(old);
    prepared.neu.set(neu);
  }
  const inputs = { oldSize: prepared.old.length, newSize: prepared.neu.length, oldSha256: sha256(prepared.old), newSha256: sha256(prepared.neu) };
  // Two ELF files of one machine: their code is diffed with absolute branch targets (the patch records where).
  const code = codeFiltersOf(prepared.old, prepared.neu);
  ctx.progress.phase('diffing', inputs.newSize);
  return { inputs, code, delta: prepared.run({ views: true, code }) };
}

async function runDiff(oldPath: string, newPath: string, patchPath: string, options: DiffOptions, command: Command): Promise<void> {
  const ctx = contextOf(command);
  checkOneStdin({ OLD: oldPath, NEW: newPath });
  // Check the output before the long diff: a bad PATCH path fails fast.
  const output = await openOutput(patchPath, { label: 'PATCH', binary: true, inputs: { OLD: oldPath, NEW: newPath } });
  try {
    const patch = await writeOutput(output, async () => {
      const { inputs, code, delta } = await diffInputs(oldPath, newPath, ctx);
      ctx.progress.phase('compressing');
      const bytes = encodeRawPatchOf(inputs, delta, { level: options.level as 9, code });
      ctx.progress.phase('writing', bytes.length);
      await output.write(bytes);
      return { size: bytes.length, newSize: inputs.newSize };
    });
    const share = patch.newSize > 0 ? ` (${((100 * patch.size) / patch.newSize).toFixed(2)}% of NEW)` : '';
    ctx.info(`${patchPath === '-' ? 'patch' : patchPath}: ${formatBytes(patch.size)}${share}`);
  } finally {
    ctx.progress.clear();
  }
}
