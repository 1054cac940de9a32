/**
 * `docker-patcher update REF` on a device: bring the daemon's REF to the
 * image REF names now in the registry. Up to date: make sure REF's tag
 * points at it. Else a patch from one of the daemon's images of that
 * repository, when the registry lists one for REF's manifest (streamed from
 * the registry into apply's daemon path: partial load, check, tag). Else a
 * pull through the daemon, by the manifest digest the registry gave
 * (--no-pull refuses instead). --dry-run says which and how many bytes it
 * would fetch, and changes nothing. The deciding is src/device/update.ts.
 */
import { setFlagsFromString } from 'node:v8';
import { Command } from 'commander';
import type { DockerClient } from '../../docker/client.js';
import { ErrorCode, PatcherError } from '../../errors.js';
import type { ChosenPatch, UpdatePlan } from '../../device/update.js';
import type { RegistryClient } from '../../registry/client.js';
import type { Reference } from '../../registry/reference.js';
import { contextOf, type CliContext } from '../context.js';
import { formatBytes } from '../progress.js';
import { daemonOptions, dockerClient, withTempDir, type DaemonOptions } from '../inputs.js';
import { registryClient, registryOptions, type RegistryCliOptions } from '../registry-options.js';
import { shortId } from '../report.js';
import { loadPatched } from './apply.js';

interface UpdateCliOptions extends DaemonOptions, RegistryCliOptions {
  pull: boolean;
  dryRun?: boolean;
  json?: boolean;
}

/** What update did (or, with --dry-run, would do); --json prints it. */
interface UpdateResult {
  reference: string;
  action: UpdatePlan['action'];
  dryRun: boolean;
  manifestDigest: string;
  configDigest: string;
  /** The daemon name REF gets (none for a digest-only REF). */
  tag?: string;
  /** The local image the patch starts from, or the one that is already C. */
  from?: { id: string; configDigest: string };
  patch?: { reference: string; digest: string; size: number };
  /** Bytes fetched from the registry (a pull: the layers the daemon lacks plus the config; known for --dry-run). */
  bytes?: number;
  reason?: string;
  /** The ID the daemon holds the new image under. */
  loadedId?: string;
  partial?: boolean;
  /** Up to date, but REF's tag was (or would be) moved onto the image. */
  retag?: boolean;
}

export function register(program: Command): void {
  const command = program
    .command('update')
    .description("bring the daemon's REF to the image REF names in the registry: by a patch from a local image when the registry has one, else by a pull")
    .argument('<REF>', 'the image in the registry, registry/repo:tag (or @sha256:…); its tag is what the daemon gets')
    .option('--no-pull', 'when no patch serves, fail (exit 9) instead of pulling through the daemon')
    .option('--dry-run', 'say what would happen and how many bytes it would fetch; change nothing')
    .option('--json', 'print the result as JSON on stdout');
  for (const option of [...daemonOptions(), ...registryOptions()]) command.addOption(option);
  command
    .addHelpText(
      'after',
      `
REF is looked up in the registry: its manifest (for a multi-platform index,
the daemon's platform) gives the new image's config digest C. If the daemon
holds C (under any name), REF is tagged onto it: up to date. Otherwise the
patches the registry lists for REF's manifest (pushed with \`push\` while the
image was in the repository) are searched for one from an image of REF's
repository in the daemon to C; the smallest is streamed from the registry,
applied, loaded, checked to be C and tagged REF. With no such patch (or no
image of the repository at all), stderr says why and the daemon pulls REF
by its manifest digest (credentials, when given or in config.json, go to the
daemon with the pull); the pulled image is checked to be C, then tagged.

Examples:
  $ docker-patcher update registry.example/app:2
  $ docker-patcher update registry.example/app:2 --dry-run
  $ echo "$TOKEN" | docker-patcher update ghcr.io/me/app:2 -u me --password-stdin --no-pull`,
    )
    .action(async (refArg: string, options: UpdateCliOptions, cmd: Command) => {
      // As apply: a small young generation keeps the device's peak RSS down.
      setFlagsFromString('--max-semi-space-size=1');
      const ctx = contextOf(cmd);
      try {
        await runUpdate(ctx, refArg, options);
      } finally {
        ctx.progress.clear();
      }
    });
}

/** The daemon name to tag: REF as written (`:latest` added when it names no tag), none for a digest alone. */
function daemonTag(refArg: string, ref: Reference): string | undefined {
  if (ref.tag) return refArg.replace(/@.*$/, '');
  return ref.digest ? undefined : `${refArg}:latest`;
}

async function runUpdate(ctx: CliContext, refArg: string, options: UpdateCliOptions): Promise<void> {
  const { parseReference, formatReference } = await import('../../registry/reference.js');
  const { planUpdate } = await import('../../device/update.js');
  const ref = parseReference(refArg, { defaultTag: true });
  const tag = daemonTag(refArg, ref);
  const registry = await registryClient(ref.registry, options);
  const docker = await dockerClient(options);
  const plan = await planUpdate(registry, docker, ref);
  const result: UpdateResult = {
    reference: formatReference(ref),
    action: plan.action,
    dryRun: Boolean(options.dryRun),
    manifestDigest: plan.image.manifestDigest,
    configDigest: plan.configDigest,
    ...(tag ? { tag } : {}),
  };
  if (plan.action === 'up-to-date') {
    const current = plan.current!;
    result.from = { id: current.id, configDigest: current.configDigest };
    result.bytes = 0;
    if (tag && !current.tags.includes(tag)) {
      result.retag = true;
      if (!options.dryRun) await docker.tagImage(current.id, tag);
    }
  } else if (plan.action === 'patch') {
    await byPatch(ctx, registry, docker, ref, plan, plan.patch!, tag, options, result);
  } else {
    await byPull(ctx, registry, docker, ref, plan, tag, options, result);
  }
  finish(ctx, options, result);
}

async function byPatch(ctx: CliContext, registry: RegistryClient, docker: DockerClient, ref: Reference, plan: UpdatePlan, patch: ChosenPatch, tag: string | undefined, options: UpdateCliOptions, result: UpdateResult): Promise<void> {
  result.from = { id: patch.from.id, configDigest: patch.from.configDigest };
  result.patch = { reference: patch.reference, digest: patch.blob.digest, size: patch.blob.size };
  result.bytes = patch.blob.size;
  if (options.dryRun) return;
  const { daemonOldImage } = await import('../../docker/old-image.js');
  const { nodeHasher } = await import('../../image/source.node.js');
  const { readHeader } = await import('../../format/image/container.js');
  const { FrameReader } = await import('../../format/image/frames.js');
  await withTempDir(options.tempDir, async (dir) => {
    // Each stream() is a fresh GET of the blob, digest-checked as it passes (its end withheld until it matches).
    const input = { stream: () => registry.blob(ref.repository, patch.blob.digest, patch.blob.size) };
    const header = await readHeader(new FrameReader(input.stream()));
    const old = daemonOldImage(docker, patch.from.id, { tempDir: dir, hasher: nodeHasher });
    const loaded = await loadPatched(ctx, docker, { old, patch: input, header }, { expectNewId: plan.configDigest, tags: tag ? [tag] : [], tempDir: dir });
    result.loadedId = loaded.loadedId;
    result.partial = loaded.partial;
  });
}

async function byPull(ctx: CliContext, registry: RegistryClient, docker: DockerClient, ref: Reference, plan: UpdatePlan, tag: string | undefined, options: UpdateCliOptions, result: UpdateResult): Promise<void> {
  result.reason = plan.reason;
  if (!options.pull) {
    throw new PatcherError(ErrorCode.NotFound, `${result.reference}: ${plan.reason}; not pulling (--no-pull)`);
  }
  const { pullBytes, pullThroughDaemon } = await import('../../device/update.js');
  if (options.dryRun) {
    result.bytes = (await pullBytes(registry, docker, ref, plan.image)).bytes;
    return;
  }
  ctx.info(`${result.reference}: ${plan.reason}; pulling through the daemon`);
  ctx.progress.phase('pulling through the daemon');
  result.loadedId = await pullThroughDaemon(docker, ref, plan, { tag, credentials: registry.credentials, unverifiedTransport: registry.unverifiedTransport });
}

function finish(ctx: CliContext, options: UpdateCliOptions, result: UpdateResult): void {
  ctx.progress.clear();
  if (options.json) {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return;
  }
  const to = shortId(result.configDigest);
  const named = result.tag ? `, tagged ${result.tag}` : '';
  const bytes = (n: number | undefined): string => `${n ?? 0} bytes (${formatBytes(n ?? 0)})`;
  if (options.dryRun) {
    const line =
      result.action === 'up-to-date'
        ? `up to date: ${shortId(result.from!.id)} is ${to}${result.retag ? `; would tag it ${result.tag}` : ''}; would fetch 0 bytes`
        : result.action === 'patch'
          ? `would apply patch ${result.patch!.reference} to ${shortId(result.from!.id)}, making ${to}${named}; would fetch ${bytes(result.bytes)}`
          : `would pull ${result.manifestDigest} (${to}) through the daemon${named} (${result.reason}); would fetch ${bytes(result.bytes)}`;
    process.stdout.write(`${result.reference}: ${line}\n`);
    return;
  }
  if (result.action === 'up-to-date') ctx.info(`${result.reference}: up to date (${shortId(result.from!.id)})${result.retag ? named : ''}`);
  else if (result.action === 'patch') {
    const sent = result.partial ? 'only the changed layers went to the daemon' : 'the daemon took the full image';
    ctx.info(`${result.reference}: updated ${shortId(result.from!.id)} -> ${shortId(result.loadedId!)} by patch ${result.patch!.reference}, fetched ${bytes(result.bytes)}${named}; ${sent}; every layer digest verified`);
  } else ctx.info(`${result.reference}: pulled ${shortId(result.loadedId!)} through the daemon${named}; config ${to} checked`);
}
