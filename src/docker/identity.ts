/**
 * The two identities of an image in a daemon. The classic store and podman
 * call an image by its config digest; Docker's containerd image store
 * (dockerd >= 25 with the containerd snapshotter) by its manifest digest,
 * and its Engine API (1.45) exposes no config digest at all: the only way
 * to it is the manifest blob in the image's `docker save` stream
 * (docs/engines.md).
 *
 * Memory: one chunk of the save stream, plus the manifest (at most 4 MiB).
 * Errors: DOCKER (daemon), NOT_FOUND (unknown image).
 */
import { readTar } from '../image/tar.js';
import type { DockerClient } from './client.js';

/** A manifest is a small JSON document; anything larger under its name is not one. */
const MAX_MANIFEST = 4 * 1024 * 1024;

const stores = new WeakMap<DockerClient, Promise<boolean>>();

/** Does the daemon keep images in containerd's store (image ID = manifest digest)? Asked once per client. */
export function usesContainerdStore(client: DockerClient): Promise<boolean> {
  let answer = stores.get(client);
  if (!answer) {
    // podman (its /version names a "Podman Engine" component, and /version is asked anyway) never is: skip its slow /info.
    answer = client
      .systemVersion()
      .then((version) => /podman/i.test(JSON.stringify(version.Components ?? [])))
      .then((podman) => !podman && client.info().then((info) => JSON.stringify(info.DriverStatus ?? []).includes('io.containerd.snapshotter')));
    stores.set(client, answer);
  }
  return answer;
}

/**
 * The config digest behind the manifest `manifestDigest` of an image in
 * the daemon, read from the manifest blob of its save stream (blobs come
 * sorted by digest; the stream is dropped once the manifest has been read).
 * Undefined when the save holds no such manifest (a classic store, whose
 * IDs are config digests already).
 */
export async function configDigestOf(client: DockerClient, manifestDigest: string): Promise<string | undefined> {
  const hex = /^sha256:([0-9a-f]{64})$/.exec(manifestDigest)?.[1];
  if (!hex) return undefined;
  for await (const entry of readTar(client.saveImage(manifestDigest))) {
    if (entry.type !== 'file' || entry.name.replace(/^\.\//, '') !== `blobs/sha256/${hex}` || entry.size > MAX_MANIFEST) continue;
    const chunks: Uint8Array[] = [];
    for await (const chunk of entry.data) chunks.push(chunk.slice());
    try {
      const digest = JSON.parse(Buffer.concat(chunks).toString('utf8'))?.config?.digest;
      return typeof digest === 'string' && /^sha256:[0-9a-f]{64}$/.test(digest) ? digest : undefined;
    } catch {
      return undefined;
    }
  }
  return undefined;
}
