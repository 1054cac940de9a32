/**
 * `docker-patcher create OLD NEW PATCH`: an image patch. (Its implementation
 * is imported when the command runs, so other commands start lighter.) OLD and NEW are
 * archives (`docker save`, OCI) or images in the daemon, which are saved to
 * a temporary directory first. The patch is verified by applying it to OLD
 * (unless --no-verify) before it is renamed into place.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_WINDOW_SIZE } from '../../format/image/limits.js';
import { DEFAULT_DIFF_MEMORY } from '../../delta/diff-budget.js';
import { fileSource, nodeHasher } from '../../image/source.node.js';
import type { ByteSource } from '../../image/source.js';
import type { Reference } from '../../registry/reference.js';
import { usageError } from '../io.js';
import { FileOutput, openOutput, scratchOutput, writeOutput, type Output } from '../output.js';
import { contextOf, type CliContext } from '../context.js';
import { formatBytes } from '../progress.js';
import { daemonOptions, namesRegistryHost, withTempDir } from '../inputs.js';
import { openInputs, type CreateInputOptions } from '../create-inputs.js';
import { registryClients, registryOptions, type RegistryCliOptions } from '../registry-options.js';
import { formatSummary, progressTo } from '../report.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

interface CreateCliOptions extends CreateInputOptions {
  window: number;
  workers: number;
  diffMemory: number;
  verify: boolean;
  json?: boolean;
  push?: boolean;
  /** --push-to REPO: push there (implies --push). */
  pushTo?: string;
}

/** '8M', '512K', '1G' or plain bytes. */
export function parseSize(value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]i?b?)?$/i.exec(value.trim());
  if (!m) throw new InvalidArgumentError('expected a size like 8M, 512K or 1048576');
  const unit = (m[2] ?? '').toLowerCase()[0];
  const scale = unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : unit === 'g' ? 1024 ** 3 : 1;
  return Math.round(Number(m[1]) * scale);
}

/** An option taking a size (parseSize), its default shown as '1M' rather than in bytes. */
function sizeOption(flags: string, description: string, bytes: number): Option {
  return new Option(flags, description).argParser(parseSize).default(bytes, `${bytes >> 20}M`);
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
    .argument('<OLD>', 'the image the device has: a docker save / OCI archive, an image ID, short ID or name:tag in the daemon, or a registry reference (registry/repo:tag)')
    .argument('<NEW>', 'the image the device should get (same forms)')
    .argument('<PATCH>', "where to write the patch ('-' = stdout)")
    .addOption(sizeOption('-w, --window <size>', 'changed bytes diffed at a time; create needs about 15x this per window in parallel, apply about 3x', DEFAULT_WINDOW_SIZE))
    .option('-j, --workers <n>', 'most windows diffed in parallel (worker threads), as --diff-memory allows', parseWorkers, 2)
    .addOption(sizeOption('--diff-memory <size>', 'memory for windows diffed in parallel: each needs about 7x its reference + 4x its new bytes, plus 12M per worker; as many run at once as the largest fits, at least one', DEFAULT_DIFF_MEMORY))
    .option('--no-verify', 'skip applying the new patch to OLD to check it before writing it')
    .option('--json', 'print the summary as JSON on stdout (not with PATCH -)')
    .option('--from-registry', 'OLD and NEW are registry references: read over the registry API, no daemon')
    .option('--platform <os/arch[/variant]>', 'which image of a multi-platform registry image (default: linux and this machine\'s architecture)')
    .option('--push', 'after writing PATCH, push it like `push` to NEW\'s repository (NEW must be a registry reference)')
    .option('--push-to <REPO>', 'after writing PATCH, push it to repository REPO (registry/name, no tag)');
  for (const option of [...daemonOptions(), ...registryOptions()]) command.addOption(option);
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

OLD and NEW may be registry references (registry.example/app:2): with
--from-registry, or when the first component names a registry host (has
a '.' or ':', or is localhost) and no daemon has the image. They are read
over the registry API (manifest, config, layers; each blob checked against
its digest, each layer against its diff_id; layers OLD and NEW share are
downloaded once) into --temp-dir, removed afterwards. --push (or --push-to REPO) then
stores the verified patch as \`push\` does, with NEW's registry manifest as
its subject, and prints its reference on stdout.

Examples:
  $ docker-patcher create app-v1.tar app-v2.tar app.patch
  $ docker-patcher create bb776ce48575 27a188018e18 nginx.patch      # images in the daemon
  $ docker-patcher create --from-registry registry.example/app:1 registry.example/app:2 app.patch --push
  $ docker-patcher create -w 16M old.tar new.tar - | ssh device 'docker-patcher apply ...'`,
    )
    .action(async (oldArg: string, newArg: string, patchPath: string, options: CreateCliOptions, cmd: Command) => {
      if (patchPath === '-' && options.json) {
        throw usageError('--json prints on stdout, which PATCH - already uses; write the patch to a file or drop --json');
      }
      const ctx = contextOf(cmd);
      const push = options.pushTo ?? (options.push ? true : undefined);
      const pushTo = push === undefined ? undefined : await pushRepository(push, newArg, patchPath, !!options.fromRegistry);
      try {
        await withTempDir(options.tempDir, (dir) => runCreate(ctx, oldArg, newArg, patchPath, options, dir, pushTo));
      } finally {
        ctx.progress.clear();
      }
    });
}

/** The repository --push goes to: --push-to's, else NEW's repository; usage errors before any work. */
async function pushRepository(push: true | string, newArg: string, patchPath: string, fromRegistry: boolean): Promise<Reference> {
  if (patchPath === '-') throw usageError('--push prints the pushed reference on stdout, which PATCH - already uses; write the patch to a file');
  const { parseReference, formatReference } = await import('../../registry/reference.js');
  if (push === true) {
    if (!fromRegistry && (existsSync(newArg) || !namesRegistryHost(newArg))) throw usageError(`--push: NEW '${newArg}' is not a registry reference; name the repository with --push-to REPO`);
    const ref = parseReference(newArg);
    return { ...ref, tag: undefined, digest: undefined };
  }
  const repo = parseReference(push);
  if (repo.tag || repo.digest) throw usageError(`--push-to '${push}' names a tag or digest: give the repository only (${formatReference({ ...repo, tag: undefined, digest: undefined })})`);
  return repo;
}

async function runCreate(ctx: CliContext, oldArg: string, newArg: string, patchPath: string, options: CreateCliOptions, dir: string, pushTo: Reference | undefined): Promise<void> {
  // Checked before the long work: a directory, a missing parent, OLD or NEW itself.
  const target = await openOutput(patchPath, { label: 'PATCH', binary: true, inputs: { OLD: oldArg, NEW: newArg } });
  let inputs: Awaited<ReturnType<typeof openInputs>> | undefined;
  let summary;
  let written = patchPath;
  const clientFor = onceClients(options);
  try {
    inputs = await openInputs(ctx, oldArg, newArg, options, dir, clientFor);
    const { old: o, neu: n } = inputs;
    // The patch goes to a file first (the target's temp name, or a spool in
    // the temp dir for stdout and devices) so it is verified before anyone sees it.
    const file = target instanceof FileOutput ? target : await scratchOutput(join(dir, 'patch'), 'PATCH');
    summary = await writeOutput(file, async () => {
      const { createPatch } = await import('../../delta/create.js');
      const result = await createPatch(o, n, (chunk) => file.write(chunk), {
        hasher: nodeHasher,
        windowSize: options.window,
        workers: options.workers,
        diffMemory: options.diffMemory,
        onProgress: progressTo(ctx.progress),
      });
      if (options.verify) await verify(ctx, o, (file as FileOutput).tempPath, patchPath);
      return result;
    });
    if (file !== target) {
      written = join(dir, 'patch');
      await copyOut(written, target);
    }
  } catch (err) {
    await target.abort();
    throw err;
  } finally {
    await inputs?.close();
  }
  ctx.progress.clear();
  const newManifestDigest = inputs.newRegistry?.manifestDigest;
  if (!options.json && !ctx.quiet) process.stderr.write(`${formatSummary(summary)}\n`);
  if (newManifestDigest) ctx.info(`NEW's registry manifest: ${newManifestDigest}`);
  let pushed;
  if (pushTo) {
    // The patch is in place and verified: a failed push leaves it there.
    const client = (await clientFor())(pushTo.registry);
    const { pushPatchFile, reportPush } = await import('../push-patch.js');
    pushed = await pushPatchFile(client, written, pushTo, { subject: newManifestDigest });
    if (!options.json) reportPush(ctx, pushed);
  }
  if (options.json) {
    // Not newManifestDigest: that field names what the patch records (an archive's manifest).
    const extra = { ...(newManifestDigest ? { newRegistryManifest: newManifestDigest } : {}), ...(pushed ? { push: { ...pushed, size: undefined } } : {}) };
    process.stdout.write(`${JSON.stringify({ ...summary, ...extra }, null, 2)}\n`);
  }
}

/** The registry clients, made on first use (a password on stdin is read once). */
function onceClients(options: RegistryCliOptions): () => ReturnType<typeof registryClients> {
  let clients: ReturnType<typeof registryClients> | undefined;
  return () => (clients ??= registryClients(options));
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
