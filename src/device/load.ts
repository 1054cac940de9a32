/**
 * The device side above the Docker client: rebuild the new image with
 * applyPatch and hand it to the daemon, first as a partial archive (the
 * new image without the layers the daemon already holds; the classic store
 * accepts it, see test/docker/partial-load.test.ts; the containerd store
 * accepts an OCI layout without the blobs its content store holds under
 * the same digests, docs/engines.md) and, when the daemon refuses it
 * (podman; the containerd store for a legacy layout or blobs it lacks), as
 * the full one.
 *
 * src/docker stays the Engine API client with load/save primitives; the
 * fallback policy and the driving of applyPatch live here.
 *
 * Memory: applyPatch's (one window) plus one chunk in flight to the file.
 * Errors: as applyPatch, loadArchive, and IO for the temporary archives.
 */
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { applyPatch } from '../delta/apply.js';
import type { OldImageInput } from '../delta/old-image.js';
import type { ApplyOptions, ApplyResult } from '../delta/types.js';
import type { DockerClient } from '../docker/client.js';
import { loadArchive } from '../docker/load.js';
import { ErrorCode, PatcherError } from '../errors.js';
import type { ImageIdentity } from '../format/image/container.js';

export interface LoadWithFallbackOptions {
  /** The new image by both identities (the daemon names it by the one it uses). */
  expected?: ImageIdentity;
  /** The new image's config digest alone, if `expected` is not given. */
  expectedId?: string;
  tags: string[];
  /** Write the new image as a `docker save` archive (partial: without the layers reused from the old image); returns its path. */
  makeArchive: (partial: boolean) => Promise<string>;
  /** One-line notes for the user (the fallback). */
  info?: (message: string) => void;
}

/**
 * Load the partial archive, or the full one if the daemon refuses the
 * partial one. A refusal is a DOCKER error while the daemon still answers
 * (an unreachable daemon is not retried). The caller owns the archive files.
 */
export async function loadWithFallback(client: DockerClient, opts: LoadWithFallbackOptions): Promise<{ partial: boolean; loadedId: string }> {
  const { tags } = opts;
  const expected = opts.expected ?? { imageId: opts.expectedId ?? '' };
  const partialPath = await opts.makeArchive(true);
  try {
    return { partial: true, loadedId: await loadArchive(client, partialPath, { expected, tags }) };
  } catch (err) {
    if (!(err instanceof PatcherError) || err.code !== ErrorCode.Docker) throw err;
    const alive = await client.ping().then(
      () => true,
      () => false,
    );
    if (!alive) throw err;
    opts.info?.(`daemon refused the partial archive (${err.message.replace(/^docker: /, '')}); sending the full image`);
  }
  const fullPath = await opts.makeArchive(false);
  return { partial: false, loadedId: await loadArchive(client, fullPath, { expected, tags }) };
}

export interface ApplyIntoDaemonOptions extends ApplyOptions {
  /** The image the patch makes (its header's identities), checked again after the load. */
  expected: ImageIdentity;
  tags: string[];
  /** A directory for the temporary archives; the caller removes it. */
  tempDir: string;
  info?: (message: string) => void;
  /** Called before each archive goes to the daemon. */
  onLoad?: () => void;
}

/** Rebuild the new image from `old` and the patch (read once per attempt) and load it into the daemon. */
export async function applyIntoDaemon(
  client: DockerClient,
  old: OldImageInput,
  patch: () => AsyncIterable<Uint8Array>,
  options: ApplyIntoDaemonOptions,
): Promise<ApplyResult & { partial: boolean; loadedId: string }> {
  const { expected, tags, tempDir, info, onLoad, ...applyOptions } = options;
  let result: ApplyResult | undefined;
  const loaded = await loadWithFallback(client, {
    expected,
    tags,
    info,
    makeArchive: async (partial) => {
      const path = join(tempDir, partial ? 'new-partial.tar' : 'new.tar');
      result = await applyToFile(old, patch(), path, { ...applyOptions, omitReused: partial });
      onLoad?.();
      return path;
    },
  });
  return { ...result!, partial: loaded.partial, loadedId: loaded.loadedId };
}

async function applyToFile(old: OldImageInput, patch: AsyncIterable<Uint8Array>, path: string, options: ApplyOptions): Promise<ApplyResult> {
  const handle = await open(path, 'w').catch((err: Error) => {
    throw new PatcherError(ErrorCode.Io, `cannot create temporary archive '${path}': ${err.message}`, { cause: err });
  });
  try {
    return await applyPatch(
      old,
      patch,
      async (chunk) => {
        try {
          for (let done = 0; done < chunk.length; ) done += (await handle.write(chunk, done, chunk.length - done)).bytesWritten;
        } catch (err) {
          throw new PatcherError(ErrorCode.Io, `cannot write temporary archive '${path}': ${(err as Error).message}`, { cause: err });
        }
      },
      options,
    );
  } finally {
    await handle.close();
  }
}
