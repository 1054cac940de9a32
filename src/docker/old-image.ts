/**
 * The old image for apply, read from a Docker daemon: only the layers the
 * patch needs are kept, each spooled to a temporary file and checked against
 * its diff_id.
 *
 * open(needed) inspects the image (NOT_FOUND if the daemon lacks it), then,
 * if any needed layer is one of the image's diff_ids, reads ONE
 * `docker save` stream of it through the raw tar reader. An outer entry
 * whose size equals that of a needed layer not found yet is spooled while
 * hashed; it is kept if it hashes to one of those layers' diff_ids, else
 * deleted at once. Everything else is drained without being stored, and the
 * stream is dropped as soon as every needed layer is in hand. This works for
 * both layouts `docker save` writes (legacy `<id>/layer.tar`, OCI
 * `blobs/sha256/<hex>`), since both hold the layers uncompressed.
 *
 * Compressed layers (the containerd store saves a pulled image's gzip or
 * zstd blobs as they are) are found when the patch wants them as stored
 * (its old archive held the same blobs); a patch that wants one
 * uncompressed finds it inside such a blob, inflated while spooled.
 *
 * Disk: the needed layers (plus, transiently, one same-size candidate).
 * Memory: one chunk of the save stream.
 * Temp files live in one `dp-old-*` directory under opts.tempDir, removed by
 * close() and on any error inside open().
 */
import { Gunzip } from 'fflate';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode, PatcherError } from '../errors.js';
import type { OldImage, OldImageProvider } from '../delta/old-image.js';
import type { ImageIdentity, OldBlob } from '../format/image/container.js';
import type { HasherFactory } from '../image/hash.js';
import type { ByteSource } from '../image/source.js';
import { fileSource } from '../image/source.node.js';
import { readTar } from '../image/tar.js';
import { ZstdDecoder } from '../image/zstd.js';
import type { DockerClient } from './client.js';
import { configDigestOf, usesContainerdStore } from './identity.js';
import { fsError, writeAll } from './save.js';

export interface DaemonOldImageOptions {
  /** Where the needed layers are spooled (in a fresh subdirectory). */
  tempDir: string;
  hasher: HasherFactory;
}

function lacks(diffId: string): PatcherError {
  return new PatcherError(ErrorCode.WrongImage, `old image in the daemon lacks layer ${diffId}`);
}

/** Image `ref` (full ID, short ID, name[:tag]) in the daemon behind `client`, as apply's old image. */
export function daemonOldImage(client: DockerClient, ref: string, opts: DaemonOldImageOptions): OldImageProvider {
  return {
    async open(needed: OldBlob[], expected?: ImageIdentity): Promise<OldImage> {
      const daemonId = await client.resolveImage(ref);
      const info = await client.inspectImage(daemonId);
      const identity = await identify(client, daemonId, expected);
      const layers = new Set(info.RootFS.Layers);
      // Layers the image does not list cannot be in its save stream: do not read it for them.
      // A compressed old blob is wanted as stored (the containerd store saves blobs as it holds them).
      const wanted = new Map<string, number>();
      for (const blob of needed) if (layers.has(blob.diffId)) wanted.set(blob.stored ?? blob.diffId, blob.size);
      // Uncompressed tars the patch reads may sit in the save as gzip or zstd blobs (the containerd store keeps pulled and built layers so).
      const plain = new Set(needed.filter((b) => !b.stored && layers.has(b.diffId)).map((b) => b.diffId));
      const spool = wanted.size > 0 ? await spoolLayers(client, daemonId, wanted, plain, opts) : { dir: undefined, files: new Map() };
      return spooledImage(identity, spool.dir, spool.files);
    },
  };
}

/**
 * Both identities of the daemon's image `daemonId`, as far as they can be
 * told: the ID the daemon uses is one of them (the config digest in the
 * classic store and podman, the manifest digest in the containerd store).
 * A manifest digest equal to the patch's pins its config too; any other ID
 * in a containerd store is looked up in the image's manifest.
 */
async function identify(client: DockerClient, daemonId: string, expected?: ImageIdentity): Promise<{ imageId: string; manifestDigest?: string }> {
  if (expected?.manifestDigest === daemonId) return { imageId: expected.imageId, manifestDigest: daemonId };
  if (expected === undefined || expected.imageId === daemonId || !(await usesContainerdStore(client))) return { imageId: daemonId };
  const config = await configDigestOf(client, daemonId);
  return config ? { imageId: config, manifestDigest: daemonId } : { imageId: daemonId };
}

/** The OldImage over spooled layer files; close() removes them. */
function spooledImage(identity: { imageId: string; manifestDigest?: string }, dir: string | undefined, files: Map<string, string>): OldImage {
  const opened: ByteSource[] = [];
  return {
    ...identity,
    async blob(need: OldBlob): Promise<ByteSource> {
      const path = files.get(need.stored ?? need.diffId);
      if (!path) throw lacks(need.diffId);
      const source = await fileSource(path);
      opened.push(source);
      if (source.size !== need.size) {
        throw new PatcherError(ErrorCode.WrongImage, `old image layer ${need.diffId} has ${source.size} bytes, the patch expects ${need.size}`);
      }
      return source;
    },
    async close(): Promise<void> {
      for (const source of opened.splice(0)) await source.close?.().catch(() => undefined);
      files.clear();
      if (dir) await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * One pass over `docker save imageId`: spool the entries that hash to a
 * wanted digest (the diff_id, or the stored digest of a compressed blob ->
 * size); a wanted uncompressed tar (`plain`, by diff_id) is also found
 * inside a gzip or zstd blob, and spooled inflated. Returns the temp dir and
 * digest -> path.
 */
async function spoolLayers(
  client: DockerClient,
  imageId: string,
  wanted: Map<string, number>,
  plain: Set<string>,
  opts: DaemonOldImageOptions,
): Promise<{ dir: string; files: Map<string, string> }> {
  let dir: string;
  try {
    dir = await mkdtemp(join(opts.tempDir, 'dp-old-'));
  } catch (err) {
    throw fsError('create a temporary directory in', opts.tempDir, err);
  }
  const files = new Map<string, string>();
  const sizes = () => new Set([...wanted].filter(([id]) => !files.has(id)).map(([, size]) => size));
  try {
    let candidates = sizes();
    let n = 0;
    const plainMissing = () => [...plain].some((id) => !files.has(id));
    for await (const entry of readTar(client.saveImage(imageId))) {
      if (entry.type !== 'file') continue;
      const asStored = candidates.has(entry.size);
      if (!asStored && !(entry.size >= COMPRESSED_MIN && plainMissing())) continue; // the reader skips the data
      const path = join(dir, `candidate-${n++}.tar`);
      const spooled = asStored
        ? { digest: await spoolEntry(entry.data, path, opts.hasher), size: entry.size }
        : await spoolInflated(entry.data, path, opts.hasher, Math.max(...[...plain].map((id) => wanted.get(id) ?? 0)));
      const digest = spooled?.digest ?? '';
      if (spooled && wanted.get(digest) === spooled.size && !files.has(digest)) {
        files.set(digest, path);
        candidates = sizes();
        if (candidates.size === 0) break; // all found: drop the rest of the stream
      } else {
        await rm(path, { force: true });
      }
    }
  } catch (err) {
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    if (err instanceof PatcherError && err.code === ErrorCode.BadImage) {
      throw new PatcherError(ErrorCode.Docker, `docker: the save stream of ${imageId} is not a valid archive (${err.message})`, { cause: err });
    }
    throw err;
  }
  return { dir, files };
}

/** Smaller entries are not looked into: a tar is at least 1 KiB, and no compressed one comes under 20 bytes. */
const COMPRESSED_MIN = 20;
/** Compressed bytes inflated per step: deflate expands at most ~1032x, so a step makes at most ~16 MiB. */
const INFLATE_STEP = 16 * 1024;

/** Data that turned out not to be the stream looked for (not gzip or zstd, corrupt, or inflating past the limit). */
class NotWanted extends Error {}

/** A push decoder for data starting with `head`'s magic (gzip or zstd), else undefined. */
function decoderFor(head: Uint8Array): ((ondata: (data: Uint8Array) => void) => { push(chunk: Uint8Array, final: boolean): void }) | undefined {
  if (head[0] === 0x1f && head[1] === 0x8b) return (ondata) => new Gunzip(ondata);
  if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return (ondata) => new ZstdDecoder(ondata);
  return undefined;
}

/**
 * If `data` is gzip or zstd, write it inflated to `path` while hashing
 * that; null for data that is neither, does not inflate or inflates past
 * `limit` bytes. The rest of `data` is read either way (the tar reader
 * needs it).
 */
async function spoolInflated(data: AsyncIterable<Uint8Array>, path: string, newHasher: HasherFactory, limit: number): Promise<{ digest: string; size: number } | null> {
  const chunks = data[Symbol.asyncIterator]();
  const drain = async (): Promise<null> => {
    while (!(await chunks.next()).done);
    return null;
  };
  const head = await chunks.next();
  if (head.done) return null;
  const found = decoderFor(head.value);
  if (!found) return drain();
  const makeDecoder = found;
  let size = 0;
  async function* inflated(): AsyncGenerator<Uint8Array> {
    let out: Uint8Array[] = [];
    const decoder = makeDecoder((piece) => {
      size += piece.length;
      if (size > limit) throw new NotWanted();
      out.push(piece.slice());
    });
    const push = (bytes: Uint8Array, final: boolean): void => {
      try {
        decoder.push(bytes, final);
      } catch {
        throw new NotWanted();
      }
    };
    for (let next = head; !next.done; next = await chunks.next()) {
      for (let at = 0; at < next.value.length; at += INFLATE_STEP) {
        push(next.value.subarray(at, at + INFLATE_STEP), false);
        yield* out;
        out = [];
      }
    }
    push(new Uint8Array(0), true);
    yield* out;
  }
  try {
    return { digest: await spoolEntry(inflated(), path, newHasher), size };
  } catch (err) {
    if (!(err instanceof NotWanted)) throw err;
    return drain();
  }
}

/** Write `data` to `path` while hashing it; returns the digest. Removes the file on failure. */
async function spoolEntry(data: AsyncIterable<Uint8Array>, path: string, newHasher: HasherFactory): Promise<string> {
  let handle;
  try {
    handle = await open(path, 'wx');
  } catch (err) {
    throw fsError('write', path, err);
  }
  const hasher = newHasher();
  try {
    for await (const chunk of data) {
      hasher.update(chunk);
      await writeAll(handle, chunk, path);
    }
    await handle.close().catch((err: unknown) => {
      throw fsError('write', path, err);
    });
    handle = undefined;
  } catch (err) {
    await handle?.close().catch(() => undefined);
    await rm(path, { force: true }).catch(() => undefined);
    throw err;
  }
  return hasher.digest();
}
