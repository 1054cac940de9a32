/**
 * `docker-patcher verify OLD PATCH [NEW]`: everything apply checks (the old
 * image's identity, NEW if given, every rebuilt blob's sha256 and the
 * archive's) with the rebuilt bytes thrown away: nothing is written or
 * loaded. Exit statuses are apply's.
 */
import { Command } from 'commander';
import { applyPatch } from '../../delta/apply.js';
import { nodeHasher } from '../../image/source.node.js';
import { openApplyInputs, patchSourceOptions, type PatchOptions } from '../apply-inputs.js';
import { daemonOptions, withTempDir, type DaemonOptions } from '../inputs.js';
import { contextOf, type CliContext } from '../context.js';
import { formatBytes } from '../progress.js';
import { progressTo, shortId } from '../report.js';

interface VerifyCliOptions extends DaemonOptions, PatchOptions {
  json?: boolean;
}

export function register(program: Command): void {
  const command = program
    .command('verify')
    .description('check that PATCH rebuilds its image from OLD, every digest included, writing nothing')
    .argument('<OLD>', 'the image the patch was made from: a docker save / OCI archive, or an image ID, short ID or name:tag in the daemon')
    .argument('<PATCH>', "the patch ('-' = stdin), or with --from-registry its registry reference")
    .argument('[NEW]', 'the image ID the patch must produce (full or short), as apply takes it')
    .option('--json', 'print the result as JSON on stdout');
  for (const option of [...daemonOptions(), ...patchSourceOptions()]) command.addOption(option);
  command
    .addHelpText(
      'after',
      `
Does all apply does except write: a 0 exit means \`apply\` with the same OLD
and PATCH rebuilds the image. Exit statuses are apply's (5 corrupt patch,
6 wrong OLD or NEW, 7 a digest that does not match).

Examples:
  $ docker-patcher verify app-v1.tar app.patch
  $ docker-patcher verify bb776ce48575 nginx.patch 27a188018e18`,
    )
    .action(async (oldArg: string, patchPath: string, newArg: string | undefined, options: VerifyCliOptions, cmd: Command) => {
      const ctx = contextOf(cmd);
      try {
        await withTempDir(options.tempDir, (dir) => runVerify(ctx, oldArg, patchPath, newArg, options, dir));
      } finally {
        ctx.progress.clear();
      }
    });
}

async function runVerify(ctx: CliContext, oldArg: string, patchPath: string, newArg: string | undefined, options: VerifyCliOptions, dir: string): Promise<void> {
  const inputs = await openApplyInputs(oldArg, newArg, patchPath, options, dir);
  try {
    const result = await applyPatch(inputs.old, inputs.patch.stream(), () => undefined, {
      hasher: nodeHasher,
      expectNewId: newArg,
      onProgress: progressTo(ctx.progress),
    });
    ctx.progress.clear();
    if (options.json) process.stdout.write(`${JSON.stringify({ ...result, verified: true }, null, 2)}\n`);
    else ctx.info(`${shortId(result.newImageId)}: ${formatBytes(result.bytesWritten)} rebuilt from ${shortId(inputs.header.old.imageId)} and checked, nothing written; every layer digest verified`);
  } finally {
    await inputs.close();
  }
}
