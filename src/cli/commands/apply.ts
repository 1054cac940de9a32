/**
 * `docker-patcher apply OLD NEW PATCH`: rebuild image NEW from image OLD and
 * the patch, then load it into the daemon and tag it (default), or write it
 * as a `docker save` archive (-o). Every rebuilt blob is sha256-checked
 * before anything is renamed into place or loaded; on any failure nothing
 * is loaded and nothing tagged, and temporary files are removed.
 */
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { Command } from 'commander';
import { applyPatch } from '../../delta/apply.js';
import type { OldImageInput } from '../../delta/old-image.js';
import { FrameReader } from '../../format/frames.js';
import { readHeader } from '../../delta/apply.js';
import { fileSource, nodeHasher } from '../../image/source.node.js';
import type { ByteSource } from '../../image/source.js';
import { AtomicOutput, writeStdout } from '../io.js';
import { contextOf, type CliContext } from '../program.js';
import { formatBytes } from '../progress.js';
import { classifyImageArg, daemonOptions, dockerClient, withTempDir, type DaemonOptions } from '../inputs.js';
import { progressTo, shortId } from '../report.js';

interface ApplyCliOptions extends DaemonOptions {
  output?: string;
  tag: string[];
  json?: boolean;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

export function register(program: Command): void {
  const command = program
    .command('apply')
    .description('rebuild image NEW from image OLD and PATCH; load it into Docker and tag it, or write it with -o')
    .argument('<OLD>', 'the image the patch was made from: a docker save / OCI archive, or an image ID, short ID or name:tag in the daemon')
    .argument('<NEW>', 'the image ID the patch must produce (full or short); checked before any work')
    .argument('<PATCH>', "the patch ('-' = stdin)")
    .option('-o, --output <file>', "write the new image as a docker save archive instead of loading it ('-' = stdout)")
    .option('-t, --tag <repo:tag>', 'tag the loaded image (repeatable)', collect, [])
    .option('--json', 'print the result as JSON on stdout');
  for (const option of daemonOptions()) command.addOption(option);
  command
    .addHelpText(
      'after',
      `
With no -o the image goes into the daemon: when it already holds OLD, only
the new config and changed layers are sent; a daemon that refuses that
(podman) gets the full image. The run ends by checking that the daemon
reports the expected image ID.

Examples:
  $ docker-patcher apply bb776ce48575 27a188018e18 nginx.patch -t nginx:1.15.12
  $ docker-patcher apply app-v1.tar 27a188018e18 app.patch -o app-v2.tar
  $ curl -s https://example.invalid/app.patch | docker-patcher apply app:v1 27a188018e18 - -t app:v2`,
    )
    .action(async (oldArg: string, newArg: string, patchPath: string, options: ApplyCliOptions, cmd: Command) => {
      // Devices are short of memory: a small young generation makes V8 free
      // the short-lived chunk buffers of the copy loops sooner (about -4 MB
      // peak RSS on the nginx pair, no measurable time).
      setFlagsFromString('--max-semi-space-size=1');
      const ctx = contextOf(cmd);
      try {
        await withTempDir(options.tempDir, (dir) => runApply(ctx, oldArg, newArg, patchPath, options, dir));
      } finally {
        ctx.progress.clear();
      }
    });
}

// The daemon modules are imported only when used: a device applying from
// an archive to a file loads less (apply's memory budget is tight).
async function oldImageInput(oldArg: string, options: ApplyCliOptions, dir: string): Promise<OldImageInput> {
  const input = classifyImageArg(oldArg, 'OLD');
  if (input.kind === 'archive') return fileSource(input.path);
  const { daemonOldImage } = await import('../../docker/old-image.js');
  return daemonOldImage(await dockerClient(options), input.ref, { tempDir: dir, hasher: nodeHasher });
}

/** The patch as a re-readable file: stdin is spooled into the temp dir (patches are small). */
async function patchFile(patchPath: string, dir: string): Promise<ByteSource> {
  if (patchPath !== '-') return fileSource(patchPath);
  const spool = await AtomicOutput.create(join(dir, 'patch'), 'PATCH');
  for await (const chunk of process.stdin) await spool.write(chunk as Uint8Array);
  await spool.commit();
  return fileSource(join(dir, 'patch'));
}

async function runApply(ctx: CliContext, oldArg: string, newArg: string, patchPath: string, options: ApplyCliOptions, dir: string): Promise<void> {
  const patch = await patchFile(patchPath, dir);
  const old = await oldImageInput(oldArg, options, dir);
  const applyOptions = { hasher: nodeHasher, expectNewId: newArg, onProgress: progressTo(ctx.progress) };
  try {
    if (options.output !== undefined) {
      const toStdout = options.output === '-';
      const output = toStdout ? undefined : await AtomicOutput.create(options.output, 'output');
      try {
        const result = await applyPatch(old, patch.stream(), (chunk) => (output ? output.write(chunk) : writeStdout(chunk)), applyOptions);
        await output?.commit();
        report(ctx, options, { ...result, output: options.output });
      } catch (err) {
        await output?.abort();
        throw err;
      }
      return;
    }
    const header = await readHeader(new FrameReader(patch.stream()));
    const { loadWithFallback } = await import('../../docker/load.js');
    const client = await dockerClient(options);
    let result: Awaited<ReturnType<typeof applyPatch>> | undefined;
    const loaded = await loadWithFallback(client, {
      expectedId: header.new.imageId,
      tags: options.tag,
      info: (message) => ctx.info(message),
      makeArchive: async (partial: boolean) => {
        const path = join(dir, partial ? 'new-partial.tar' : 'new.tar');
        const output = await AtomicOutput.create(path, 'temporary archive');
        try {
          result = await applyPatch(old, patch.stream(), (chunk) => output.write(chunk), { ...applyOptions, omitReused: partial });
          await output.commit();
        } catch (err) {
          await output.abort();
          throw err;
        }
        ctx.progress.phase('loading into the daemon');
        return path;
      },
    });
    report(ctx, options, { ...result!, partial: loaded.partial, loadedInto: client.host, tags: options.tag.length ? options.tag : header.new.tags });
  } finally {
    await patch.close?.();
    if ('close' in old && typeof old.close === 'function') await old.close();
  }
}

function report(ctx: CliContext, options: ApplyCliOptions, result: Record<string, unknown> & { newImageId: string; bytesWritten: number; partial: boolean }): void {
  ctx.progress.clear();
  if (options.json) {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return;
  }
  const where = result.loadedInto ? `loaded into ${String(result.loadedInto)}${result.partial ? ' (only the changed layers were sent)' : ''}` : `written to ${String(result.output)}`;
  // Only a daemon load tags anything; an archive carries its tags inside.
  const tags = result.loadedInto && Array.isArray(result.tags) && result.tags.length ? `, tagged ${result.tags.join(' ')}` : '';
  ctx.info(`${shortId(result.newImageId)}: ${formatBytes(result.bytesWritten)} ${where}${tags}; every layer digest verified`);
}
