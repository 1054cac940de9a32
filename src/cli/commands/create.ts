/**
 * `docker-patcher create OLD NEW PATCH`: an image patch. (Its implementation
 * is imported when the command runs, so other commands start lighter.) OLD and NEW are
 * archives (`docker save`, OCI) or images in the daemon, which are saved to
 * a temporary directory first. The patch is verified by applying it to OLD
 * (unless --no-verify) before it is renamed into place.
 */
import { Command, InvalidArgumentError } from 'commander';
import { DEFAULT_WINDOW_SIZE } from '../../format/image/limits.js';
import { fileSource, nodeHasher } from '../../image/source.node.js';
import type { ByteSource } from '../../image/source.js';
import { usageError } from '../io.js';
import { FileOutput, openOutput, scratchOutput, writeOutput, type Output } from '../output.js';
import { contextOf, type CliContext } from '../context.js';
import { formatBytes } from '../progress.js';
import { classifyImageArg, daemonOptions, dockerClient, withTempDir, type DaemonOptions } from '../inputs.js';
import { formatSummary, progressTo } from '../report.js';
import { join } from 'node:path';

interface CreateCliOptions extends DaemonOptions {
  window: number;
  workers: number;
  verify: boolean;
  json?: boolean;
}

/** '8M', '512K', '1G' or plain bytes. */
export function parseSize(value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]i?b?)?$/i.exec(value.trim());
  if (!m) throw new InvalidArgumentError('expected a size like 8M, 512K or 1048576');
  const unit = (m[2] ?? '').toLowerCase()[0];
  const scale = unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : unit === 'g' ? 1024 ** 3 : 1;
  return Math.round(Number(m[1]) * scale);
}

function parseWorkers(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new InvalidArgumentError('must be an integer from 1 to 64');
  return n;
}

export function register(program: Command): void {
  const command = program
    .command('create')
    .description('make a patch that turns image OLD into image NEW')
    .argument('<OLD>', 'the image the device has: a docker save / OCI archive, or an image ID, short ID or name:tag in the daemon')
    .argument('<NEW>', 'the image the device should get (same forms)')
    .argument('<PATCH>', "where to write the patch ('-' = stdout)")
    .option('-w, --window <size>', `changed bytes diffed at a time; create needs about 10x this per worker, apply about 3x (default ${DEFAULT_WINDOW_SIZE >> 20}M)`, parseSize, DEFAULT_WINDOW_SIZE)
    .option('-j, --workers <n>', 'windows diffed in parallel (worker threads)', parseWorkers, 2)
    .option('--no-verify', 'skip applying the new patch to OLD to check it before writing it')
    .option('--json', 'print the summary as JSON on stdout (not with PATCH -)');
  for (const option of daemonOptions()) command.addOption(option);
  command
    .addHelpText(
      'after',
      `
Unchanged layers are reused from OLD; changed layers are diffed file by file
against their old versions, in windows. The patch names both image IDs:
apply refuses any other OLD, and checks every rebuilt layer's sha256.

PATCH is written to a temporary file next to it and renamed into place once
verified (a symlink's target is replaced, the link stays); a device or FIFO
gets the verified patch written directly. PATCH may not be OLD or NEW.

Examples:
  $ docker-patcher create app-v1.tar app-v2.tar app.patch
  $ docker-patcher create bb776ce48575 27a188018e18 nginx.patch      # images in the daemon
  $ docker-patcher create -w 16M old.tar new.tar - | ssh device 'docker-patcher apply ...'`,
    )
    .action(async (oldArg: string, newArg: string, patchPath: string, options: CreateCliOptions, cmd: Command) => {
      if (patchPath === '-' && options.json) {
        throw usageError('--json prints on stdout, which PATCH - already uses; write the patch to a file or drop --json');
      }
      const ctx = contextOf(cmd);
      try {
        await withTempDir(options.tempDir, (dir) => runCreate(ctx, oldArg, newArg, patchPath, options, dir));
      } finally {
        ctx.progress.clear();
      }
    });
}

/** An archive path as is, or the daemon image saved into `dir`. */
async function openImage(ctx: CliContext, arg: string, label: string, options: CreateCliOptions, dir: string): Promise<ByteSource> {
  const input = classifyImageArg(arg, label);
  if (input.kind === 'archive') return fileSource(input.path);
  const path = join(dir, `${label.toLowerCase()}.tar`);
  const client = await dockerClient(options);
  const { saveImageToFile } = await import('../../docker/save.js');
  ctx.progress.phase(`saving ${label} ${input.ref} from the daemon`);
  let saved = 0;
  await saveImageToFile(client, input.ref, path, (n) => ctx.progress.update((saved += n)));
  return fileSource(path);
}

async function runCreate(ctx: CliContext, oldArg: string, newArg: string, patchPath: string, options: CreateCliOptions, dir: string): Promise<void> {
  // Checked before the long work: a directory, a missing parent, OLD or NEW itself.
  const target = await openOutput(patchPath, { label: 'PATCH', binary: true, inputs: { OLD: oldArg, NEW: newArg } });
  let old: ByteSource | undefined;
  let neu: ByteSource | undefined;
  try {
    old = await openImage(ctx, oldArg, 'OLD', options, dir);
    neu = await openImage(ctx, newArg, 'NEW', options, dir);
    const [o, n] = [old, neu];
    // The patch goes to a file first (the target's temp name, or a spool in
    // the temp dir for stdout and devices) so it is verified before anyone sees it.
    const file = target instanceof FileOutput ? target : await scratchOutput(join(dir, 'patch'), 'PATCH');
    const summary = await writeOutput(file, async () => {
      const { createPatch } = await import('../../delta/create.js');
      const result = await createPatch(o, n, (chunk) => file.write(chunk), {
        hasher: nodeHasher,
        windowSize: options.window,
        workers: options.workers,
        onProgress: progressTo(ctx.progress),
      });
      if (options.verify) await verify(ctx, o, (file as FileOutput).tempPath, patchPath);
      return result;
    });
    if (file !== target) await copyOut(join(dir, 'patch'), target);
    ctx.progress.clear();
    if (options.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    else if (!ctx.quiet) process.stderr.write(`${formatSummary(summary)}\n`);
  } catch (err) {
    await target.abort();
    throw err;
  } finally {
    await old?.close?.();
    await neu?.close?.();
  }
}

/** The verified spool to stdout or a device. */
async function copyOut(spool: string, target: Output): Promise<void> {
  const source = await fileSource(spool);
  try {
    await writeOutput(target, async () => {
      for await (const chunk of source.stream()) await target.write(chunk);
    });
  } finally {
    await source.close?.();
  }
}

/** Apply the patch just written (still under its temporary name) to OLD, checking every digest. */
async function verify(ctx: CliContext, old: ByteSource, written: string, shown: string): Promise<void> {
  const patch = await fileSource(written);
  try {
    ctx.progress.phase('verifying', patch.size);
    const { applyPatch } = await import('../../delta/apply.js');
    await applyPatch(old, patch.stream(), () => {}, { hasher: nodeHasher });
  } finally {
    await patch.close?.();
  }
  ctx.info(`${shown === '-' ? 'patch' : shown}: verified (${formatBytes(patch.size)})`);
}
