/**
 * `docker-patcher apply OLD NEW PATCH`: rebuild image NEW from image OLD and
 * the patch, then load it into the daemon and tag it (default), or write it
 * as a `docker save` archive (-o). Every rebuilt blob is sha256-checked
 * before anything is renamed into place or loaded; on any failure nothing
 * is loaded and nothing tagged, and temporary files are removed.
 */
import { setFlagsFromString } from 'node:v8';
import { Command } from 'commander';
import { applyPatch } from '../../delta/apply.js';
import type { ApplyResult } from '../../delta/types.js';
import type { DockerClient } from '../../docker/client.js';
import { fileSpool, nodeHasher } from '../../image/source.node.js';
import { usageError } from '../io.js';
import { markComplete, openOutput, writeOutput } from '../output.js';
import { contextOf, type CliContext } from '../context.js';
import { formatBytes } from '../progress.js';
import { daemonOptions, dockerClient, withTempDir, type DaemonOptions } from '../inputs.js';
import { openApplyInputs, patchSourceOptions, type ApplyInputs, type PatchOptions } from '../apply-inputs.js';
import { progressTo, shortId } from '../report.js';

interface ApplyCliOptions extends DaemonOptions, PatchOptions {
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
    .argument('<NEW>', 'the image ID the patch must produce, full or short: its config digest or its manifest digest (the containerd store\'s ID); checked before any work')
    .argument('<PATCH>', "the patch ('-' = stdin), or with --from-registry its registry reference")
    .option('-o, --output <file>', "write the new image as a docker save archive instead of loading it ('-' = stdout)")
    .option('-t, --tag <repo:tag>', 'tag the loaded image (repeatable; not with -o)', collect, [])
    .option('--json', 'print the result as JSON on stdout (not with -o -)');
  for (const option of [...daemonOptions(), ...patchSourceOptions()]) command.addOption(option);
  command
    .addHelpText(
      'after',
      `
With no -o the image goes into the daemon: when it already holds OLD, only
the new config and changed layers are sent; a daemon that refuses that
(podman) gets the full image. The run ends by checking that the daemon
reports the expected image ID.

-o FILE writes to a temporary file next to FILE and renames it into place
once every digest checked (a symlink's target is replaced, the link stays);
a device or FIFO (-o /dev/null) is written directly, as the bytes come.
An output that is one of the inputs is refused. To check a patch without
writing anything, use \`verify\`.

Examples:
  $ docker-patcher apply bb776ce48575 27a188018e18 nginx.patch -t nginx:1.15.12
  $ docker-patcher apply app-v1.tar 27a188018e18 app.patch -o app-v2.tar
  $ curl -s https://example.invalid/app.patch | docker-patcher apply app:v1 27a188018e18 - -t app:v2
  $ docker-patcher apply app:1 27a188018e18 --from-registry registry.example/app@sha256:… -t app:2

With --from-registry, PATCH is a registry reference (what \`push\` prints) and
the patch blob streams from the registry into apply, its digest checked as
it passes: nothing but the output is written.`,
    )
    .action(async (oldArg: string, newArg: string, patchPath: string, options: ApplyCliOptions, cmd: Command) => {
      // Devices are short of memory: a small young generation makes V8 free
      // the short-lived chunk buffers of the copy loops sooner (about -4 MB
      // peak RSS on the nginx pair, no measurable time).
      setFlagsFromString('--max-semi-space-size=1');
      checkUsage(options);
      const ctx = contextOf(cmd);
      try {
        await withTempDir(options.tempDir, (dir) => runApply(ctx, oldArg, newArg, patchPath, options, dir));
      } finally {
        ctx.progress.clear();
      }
    });
}

function checkUsage(options: ApplyCliOptions): void {
  if (options.output !== undefined && options.tag.length) {
    throw usageError('-t tags an image loaded into the daemon; with -o the archive carries the tags the patch names (drop -t or -o)');
  }
  if (options.output === '-' && options.json) {
    throw usageError("--json prints on stdout, which -o - already uses for the archive; write the archive to a file or drop --json");
  }
}

async function runApply(ctx: CliContext, oldArg: string, newArg: string, patchPath: string, options: ApplyCliOptions, dir: string): Promise<void> {
  // The output is checked before any work (a directory, a missing parent, an input).
  const output =
    options.output === undefined ? undefined : await openOutput(options.output, { label: 'output', binary: true, inputs: { OLD: oldArg, PATCH: patchPath } });
  const inputs = await openApplyInputs(oldArg, newArg, patchPath, options, dir).catch(async (err: unknown) => {
    await output?.abort();
    throw err;
  });
  // An old layer stored gzip is inflated to a file in the temp dir, not into memory.
  const applyOptions = { hasher: nodeHasher, spool: fileSpool(dir), expectNewId: newArg, onProgress: progressTo(ctx.progress) };
  try {
    if (output) {
      const result = await writeOutput(output, () => applyPatch(inputs.old, inputs.patch.stream(), (chunk) => output.write(chunk), applyOptions));
      report(ctx, options, { ...result, output: options.output });
      return;
    }
    await intoDaemon(ctx, inputs, options, newArg, dir);
  } finally {
    await inputs.close();
  }
}

async function intoDaemon(ctx: CliContext, inputs: ApplyInputs, options: ApplyCliOptions, newArg: string, dir: string): Promise<void> {
  const client = await dockerClient(options);
  const result = await loadPatched(ctx, client, inputs, { expectNewId: newArg, tags: options.tag, tempDir: dir });
  report(ctx, options, { ...result, loadedInto: client.host, tags: options.tag.length ? options.tag : inputs.header.new.tags });
}

/**
 * apply's daemon path, shared with `update`: rebuild the image the patch
 * makes from `inputs.old`, load it (partial archive first, the full one if
 * the daemon refuses that), check the daemon holds the patch's new image
 * under the ID it uses, then tag it. `expectNewId` is the trust anchor.
 */
export async function loadPatched(
  ctx: CliContext,
  client: DockerClient,
  inputs: Pick<ApplyInputs, 'old' | 'patch' | 'header'>,
  options: { expectNewId: string; tags: string[]; tempDir: string },
): Promise<ApplyResult & { partial: boolean; loadedId: string }> {
  const { applyIntoDaemon } = await import('../../device/load.js');
  const result = await applyIntoDaemon(client, inputs.old, () => inputs.patch.stream(), {
    hasher: nodeHasher,
    onProgress: progressTo(ctx.progress),
    expectNewId: options.expectNewId,
    expected: inputs.header.new,
    tags: options.tags,
    tempDir: options.tempDir,
    info: (message) => ctx.info(message),
    onLoad: () => ctx.progress.phase('loading into the daemon'),
  });
  markComplete();
  return result;
}

function report(ctx: CliContext, options: ApplyCliOptions, result: ApplyResult & Record<string, unknown>): void {
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
