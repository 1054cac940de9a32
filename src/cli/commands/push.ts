/**
 * `docker-patcher push PATCH REPO`: store a patch in a registry as an OCI
 * artifact (src/registry/artifact.ts) and print its reference,
 * `REPO@sha256:…`, which `apply --from-registry` takes. Pushing the same
 * patch again uploads nothing and prints the same reference.
 */
import { Command } from 'commander';
import { usageError } from '../io.js';
import { contextOf } from '../context.js';
import { pushPatchFile, reportPush } from '../push-patch.js';
import { registryClient, registryOptions, type RegistryCliOptions } from '../registry-options.js';
import { parseSize } from './create.js';

interface PushCliOptions extends RegistryCliOptions {
  chunkSize?: number;
  json?: boolean;
}

export function register(program: Command): void {
  const command = program
    .command('push')
    .description('store PATCH in a registry repository as an OCI artifact; prints REPO@sha256:… for apply --from-registry')
    .argument('<PATCH>', 'the patch file (made by create)')
    .argument('<REPO>', 'the repository, registry/name (no tag or digest), e.g. registry.example/app')
    .option('--chunk-size <size>', 'upload in chunks of this size (e.g. 8M) instead of one request', parseSize)
    .option('--json', 'print the result as JSON on stdout');
  for (const option of registryOptions()) command.addOption(option);
  command
    .addHelpText(
      'after',
      `
The patch becomes one blob under an OCI image manifest with artifactType
application/vnd.docker-patcher.patch.v1 and annotations naming the old and
new images. When the new image's manifest is in REPO (by a tag the patch
names), the manifest's subject points at it, and the patch is listed by the
referrers API or, where the registry has none, under the tag
sha256-<new manifest hex>. Nothing in the manifest changes between pushes:
pushing the same patch twice stores it once.

Examples:
  $ docker-patcher push app-1-2.patch registry.example/app
  $ echo "$TOKEN" | docker-patcher push app.patch ghcr.io/me/app -u me --password-stdin`,
    )
    .action(async (patchPath: string, repoArg: string, options: PushCliOptions, cmd: Command) => {
      const ctx = contextOf(cmd);
      const { parseReference, formatReference } = await import('../../registry/reference.js');
      const repo = parseReference(repoArg);
      if (repo.tag || repo.digest) throw usageError(`REPO '${repoArg}' names a tag or digest: give the repository only (${formatReference({ ...repo, tag: undefined, digest: undefined })})`);
      if (patchPath === '-') throw usageError('push reads PATCH twice (digest, then upload): give a file, not -');
      const client = await registryClient(repo.registry, options);
      const result = await pushPatchFile(client, patchPath, repo, { chunkSize: options.chunkSize });
      if (options.json) {
        process.stdout.write(`${JSON.stringify({ ...result, size: undefined }, null, 2)}\n`);
        return;
      }
      reportPush(ctx, result);
    });
}
