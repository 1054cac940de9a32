/**
 * The old image as apply sees it: its ID, and the layers the patch needs,
 * each checked against its diff_id before any byte of it is used.
 *
 * archiveOldImage reads a `docker save` / OCI archive (a file, a browser
 * File, bytes). The Docker daemon provides another implementation that
 * fetches only the layers the patch needs (src/docker/).
 */
import { ErrorCode, PatcherError, naming } from '../errors.js';
import { openImageArchive } from '../image/archive.js';
import { hashStream, type HasherFactory } from '../image/hash.js';
import type { ByteSource } from '../image/source.js';
import type { ImageIdentity, OldBlob } from '../format/image/container.js';
import { layerSource, sliceSource, streamReused, type LayerSpool } from '../image/layer-source.js';

export interface OldImage {
  /** The config digest, or (a daemon that could not tell) the ID the daemon uses. */
  readonly imageId: string;
  /** The manifest digest, when known (an OCI-layout archive, Docker's containerd store). */
  readonly manifestDigest?: string;
  /** The uncompressed layer with this diff_id, verified. */
  blob(blob: OldBlob): Promise<ByteSource>;
  close?(): Promise<void>;
}

/**
 * Anything apply can take as its old image: an archive, or a provider told
 * up front which layers the patch will ask for (so a daemon can fetch just
 * those in one pass).
 */
export type OldImageInput = ByteSource | OldImageProvider;

export interface OldImageProvider {
  /** `expected`: the patch's old image, so a daemon that names images otherwise can tell which identity to check. */
  open(needed: OldBlob[], expected?: ImageIdentity): Promise<OldImage>;
}

export async function openOldImage(input: OldImageInput, needed: OldBlob[], hasher: HasherFactory, expected?: ImageIdentity, spool?: LayerSpool): Promise<OldImage> {
  return 'open' in input ? input.open(needed, expected) : archiveOldImage(input, hasher, spool);
}

/** An old image archive; a layer stored gzip is inflated once, into `spool` when given (else memory). close() closes those. */
export async function archiveOldImage(src: ByteSource, hasher: HasherFactory, spool?: LayerSpool): Promise<OldImage> {
  const archive = await naming('old image', () => openImageArchive(src, { hasher }));
  const opened: ByteSource[] = [];
  return {
    imageId: archive.imageId,
    manifestDigest: archive.manifestDigest,
    async blob(need: OldBlob) {
      const i = archive.layers.findIndex((l) => l.diffId === need.diffId);
      if (i < 0) throw new PatcherError(ErrorCode.WrongImage, `old image lacks layer ${need.diffId}`);
      // A stored blob is the layer's bytes as the archive holds them (compressed).
      const layer = archive.layers[i];
      const source = need.stored ? sliceSource(src, layer.entry.dataOffset, layer.storedSize) : await layerSource(src, archive, i, hasher, need.size, spool);
      if (source.close) opened.push(source);
      const expected = need.stored ?? need.diffId;
      const digest = await hashStream(hasher, streamReused(source, 0, source.size));
      if (digest !== expected || source.size !== need.size) {
        throw new PatcherError(ErrorCode.DigestMismatch, `old image layer ${need.diffId} is damaged or stored differently (hashes to ${digest}, expected ${expected})`);
      }
      return source;
    },
    async close() {
      for (const source of opened.splice(0)) await source.close?.();
    },
  };
}
