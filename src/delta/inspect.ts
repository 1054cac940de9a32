/**
 * inspectPatch: what a patch holds, read front to back without the old
 * image: both image IDs, and per outer entry its kind and bytes in the patch
 * (with, for a changed layer, each gzip file diffed decoded and its cost;
 * for a compressed layer blob, how it went: re-compressed by Go's model,
 * or carried as stored, gzip or zstd, told by its first bytes).
 * Every frame's checksum is verified on the way, and literal frames are
 * decoded (one at a time, at most MAX_LITERAL_CHUNK).
 */
import { FrameReader, FrameType } from '../format/image/frames.js';
import { EntryCodec, LiteralCodec } from '../format/image/container.js';
import { badPatch } from '../errors.js';
import { peekGzipEntry } from '../format/image/gzip-entry.js';
import { readHeader } from '../format/image/container.js';
import { goGzipName } from '../format/image/records.js';
import { storedCompressionName } from '../image/archive.js';
import { MAX_WINDOW_SIZE } from '../format/image/limits.js';
import type { EntrySummary, PatchSummary } from './types.js';

export async function inspectPatch(patch: AsyncIterable<Uint8Array>): Promise<PatchSummary> {
  const frames = new FrameReader(patch);
  try {
    const header = await readHeader(frames);
    const entries: EntrySummary[] = [];
    let ended = false;
    const codec = new EntryCodec();
    const literals = new LiteralCodec();
    let literalRoom = 0;
    let layerLiteral = false;
    for (let frame = await frames.next(); frame; frame = await frames.next()) {
      if (ended) throw badPatch('data after the end record');
      if (frame.type === FrameType.Entry) {
        const { record } = codec.decode(frame.payload);
        entries.push({ name: record.name, kind: record.kind, size: record.size, patchBytes: frame.size, diffId: record.diffId, ...(record.goGzip ? { compressed: goGzipName(record.goGzip) } : {}) });
        [literalRoom, layerLiteral] = [record.kind === 'literal' ? record.size : 0, record.kind === 'literal' && record.diffId !== undefined];
      } else if (frame.type === FrameType.End) {
        ended = true;
      } else if (entries.length > 0) {
        const entry = entries[entries.length - 1];
        entry.patchBytes += frame.size;
        if (frame.type === FrameType.Literal) {
          // Decoded in order: each literal frame is deflated with the ones before as dictionary.
          const data = literals.decode(frame.payload, literalRoom);
          const carried = layerLiteral && literalRoom === entry.size ? storedCompressionName(data) : undefined;
          if (carried) entry.compressed = carried;
          literalRoom -= data.length;
        } else if (frame.type === FrameType.Gzip) {
          const { name, newSize } = peekGzipEntry(frame.payload);
          (entry.gzip ??= []).push({ name, size: newSize, patchBytes: frame.size });
        }
      } else {
        throw badPatch('data frame outside an entry');
      }
    }
    if (!ended) throw badPatch('truncated: the patch ends before its end record');
    return {
      formatVersion: header.formatVersion,
      oldImageId: header.old.imageId,
      newImageId: header.new.imageId,
      ...(header.old.manifestDigest ? { oldManifestDigest: header.old.manifestDigest } : {}),
      ...(header.new.manifestDigest ? { newManifestDigest: header.new.manifestDigest } : {}),
      newTags: header.new.tags,
      newArchiveSize: header.new.archiveSize,
      patchSize: frames.offset,
      windowSize: header.windowSize,
      entries,
    };
  } finally {
    await frames.close();
  }
}
