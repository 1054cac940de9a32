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
import { fileSource } from '../image/source.node.js';
import type { DockerClient } from './client.js';
import type { JsonMessage } from './jsonstream.js';

export interface LoadArchiveOptions {
  /** The image ID the archive must produce: `sha256:` + 64 hex. */
  expectedId: string;
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
 * POST /images/load with the archive at `archivePath`, then check the daemon
 * holds `expectedId` and that it is what the archive loaded, then tag it.
 * Nothing is tagged by us unless all that holds (tags written into the
 * archive's own manifest are applied by the daemon as it loads).
 */
export async function loadArchive(client: DockerClient, archivePath: string, opts: LoadArchiveOptions): Promise<void> {
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
  const mismatch = () =>
    new PatcherError(ErrorCode.DigestMismatch, `the daemon loaded ${ids.join(', ')}, expected ${opts.expectedId}`);
  if (!ids.includes(opts.expectedId)) throw mismatch();
  const info = await client.inspectImage(opts.expectedId).catch((err: unknown) => {
    if (err instanceof PatcherError && err.code === ErrorCode.NotFound) throw mismatch();
    throw err;
  });
  if (info.Id !== opts.expectedId) {
    throw new PatcherError(ErrorCode.DigestMismatch, `the daemon holds ${info.Id}, expected ${opts.expectedId}`);
  }
  for (const tag of opts.tags) await client.tagImage(opts.expectedId, tag);
}
