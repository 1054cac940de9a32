/**
 * Loading an image archive into the daemon: POST /images/load with the
 * archive file streamed, a check that the daemon now holds exactly the
 * expected image ID, and only then the tags. (Which archive to send, and
 * the fallback from a partial to a full one, is src/device/load.ts.)
 *
 * Memory: one chunk of the archive in flight.
 * Errors: DOCKER (daemon, or a failure inside the load stream), IO (the
 * archive file), DIGEST_MISMATCH (the daemon reports another image ID).
 */
import { ErrorCode, PatcherError } from '../errors.js';
import { describeIdentity, type ImageIdentity } from '../format/image/container.js';
import { fileSource } from '../image/source.node.js';
import type { DockerClient } from './client.js';
import { configDigestOf, usesContainerdStore } from './identity.js';
import type { JsonMessage } from './jsonstream.js';

export interface LoadArchiveOptions {
  /**
   * The image the archive must produce, by both identities: the daemon
   * names it by one of them (config digest: classic store, podman; manifest
   * digest: containerd store).
   */
  expected?: ImageIdentity;
  /** The expected config digest alone (`sha256:` + 64 hex): the same as `expected: { imageId }`. */
  expectedId?: string;
  /** `repo[:tag]` references to give the image once it checked out. */
  tags: string[];
  /** Each progress line the daemon sends (e.g. "Loaded image ID: sha256:..."). */
  onMessage?: (line: string) => void;
}

function messageLine(message: JsonMessage): string {
  const text = message.stream ?? message.status ?? '';
  return [text.trim(), message.progress?.trim()].filter(Boolean).join(' ');
}

/** The image IDs behind what the daemon reported loading (IDs as they are, names resolved). */
async function loadedIds(client: DockerClient, loaded: string[]): Promise<string[]> {
  const ids: string[] = [];
  for (const ref of loaded) {
    if (/^sha256:[0-9a-f]{64}$/.test(ref)) ids.push(ref);
    else ids.push(await client.resolveImage(ref).catch(() => `${ref} (gone)`));
  }
  return ids;
}

/**
 * Which of `ids` is the expected image, under the ID this daemon uses. A
 * containerd store names an image loaded from a legacy archive by a
 * manifest it makes up (its digest depends on the store's state): that one
 * is checked through its manifest's config digest.
 */
async function expectedAmong(client: DockerClient, ids: string[], expected: ImageIdentity): Promise<string | undefined> {
  const direct = ids.find((id) => id === expected.imageId || id === expected.manifestDigest);
  if (direct || !(await usesContainerdStore(client))) return direct;
  for (const id of ids) if ((await configDigestOf(client, id).catch(() => undefined)) === expected.imageId) return id;
  return undefined;
}

/**
 * POST /images/load with the archive at `archivePath`, then check the daemon
 * holds the expected image under one of its identities, that it is what
 * the archive loaded, and (containerd store) that it lists it: a partial
 * OCI archive whose left-out blobs the store lacks while it has their
 * layers unpacked loads "fine" into an image that cannot be listed or
 * saved (docs/engines.md), which is a refusal (DOCKER). Then tag it.
 * Nothing is tagged by us unless all that holds (tags written into the
 * archive's own manifest are applied by the daemon as it loads). Returns
 * the ID the daemon uses for the image.
 */
export async function loadArchive(client: DockerClient, archivePath: string, opts: LoadArchiveOptions): Promise<string> {
  const source = await fileSource(archivePath);
  let loaded: string[];
  try {
    ({ loaded } = await client.loadImage(source.stream(), {
      quiet: true,
      onMessage: opts.onMessage
        ? (message) => {
            const line = messageLine(message);
            if (line) opts.onMessage!(line);
          }
        : undefined,
    }));
  } finally {
    await source.close?.();
  }
  const ids = await loadedIds(client, loaded);
  const expected = opts.expected ?? { imageId: opts.expectedId ?? '' };
  const wanted = describeIdentity(expected);
  const mismatch = () => new PatcherError(ErrorCode.DigestMismatch, `the daemon loaded ${ids.join(', ')}, expected ${wanted}`);
  const id = await expectedAmong(client, ids, expected);
  if (!id) throw mismatch();
  const info = await client.inspectImage(id).catch((err: unknown) => {
    if (err instanceof PatcherError && err.code === ErrorCode.NotFound) throw mismatch();
    throw err;
  });
  if (info.Id !== id) throw new PatcherError(ErrorCode.DigestMismatch, `the daemon holds ${info.Id}, expected ${wanted}`);
  if ((await usesContainerdStore(client)) && !(await client.listImageIds()).includes(id)) {
    throw new PatcherError(ErrorCode.Docker, `docker: the daemon loaded ${id} but does not list it (blobs the archive left out are missing from its content store)`);
  }
  for (const tag of opts.tags) await client.tagImage(id, tag);
  return id;
}
