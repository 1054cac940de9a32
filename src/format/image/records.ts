/**
 * Field-by-field checks of the image patch's JSON records (header, entry,
 * end), run before any field is used: a patch is hostile input, and a
 * record that parses as JSON can still hold `null`, a string where a size
 * goes, -2, 2^53 or 1e300. Each check fails with one BAD_PATCH line that
 * names the record and field and shows what was there.
 */
import { ErrorCode, PatcherError, badPatch } from '../../errors.js';
import { FORMAT_VERSION } from './frames.js';

export interface OldBlob {
  /** diff_id of the old layer (sha256 of its uncompressed tar). */
  diffId: string;
  /**
   * Set when the blob is the layer's stored (compressed) bytes rather than
   * its uncompressed tar: their sha256. A compressed layer both images
   * share is reused this way, byte for byte.
   */
  stored?: string;
  size: number;
  /** True when apply needs all of it (a reused layer); else only `ranges`. */
  whole: boolean;
  /** [offset, length] pairs, sorted and merged, that windows read. */
  ranges: Array<[number, number]>;
}

/**
 * An image has two identities (format version 2): `imageId`, the sha256 of
 * its config (the classic store's and podman's image ID), and
 * `manifestDigest`, the sha256 of its manifest (the containerd store's image
 * ID, and what a registry reference `repo@sha256:...` pins). The manifest
 * digest is recorded when the archive holds a manifest (an OCI layout, as
 * `docker save` writes since Docker 25); a legacy archive has none.
 */
export interface ImageIdentity {
  imageId: string;
  manifestDigest?: string;
}

/** 'sha256:<config> (manifest sha256:<manifest>)', or just the config digest: for messages. */
export function describeIdentity(image: ImageIdentity): string {
  return image.manifestDigest ? `${image.imageId} (manifest ${image.manifestDigest})` : image.imageId;
}

export interface PatchHeader {
  tool: 'docker-patcher';
  formatVersion: number;
  old: ImageIdentity & { blobs: OldBlob[] };
  new: ImageIdentity & {
    tags: string[];
    kind: string;
    archiveSize: number;
    entries: number;
    layers: Array<{ diffId: string; size: number }>;
  };
  windowSize: number;
}

export type EntryKind = 'none' | 'literal' | 'reuse' | 'delta';

export interface EntryRecord {
  name: string;
  kind: EntryKind;
  /** Bytes of data. */
  size: number;
  /** sha256 of the data ('sha256:<hex>'), checked by apply. */
  sha256: string;
  /** For a reused layer: index into header.old.blobs. */
  blob?: number;
  /** For a layer: its diff_id. */
  diffId?: string;
  /** Padding after the data, hex, only when it is not all zeros. */
  padding?: string;
  /**
   * Part of a layer that the old and new images share at the same place in
   * their stacks: a daemon holding the old image already has it, so a
   * partial archive for it may leave this entry out.
   */
  partialSkip?: boolean;
  /**
   * A changed gzip layer blob rebuilt by re-compression (kind 'delta'):
   * its windows rebuild the tar inside (textSize bytes, sha256 = diffId),
   * which Go's compress/gzip model (src/core goGzipExact) at `level`, with
   * this member header, turns back into the `size` stored bytes (sha256).
   */
  goGzip?: GoGzipRecord;
}

export interface GoGzipRecord {
  /** compress/flate level, -2..9. */
  level: number;
  /** The gzip member header as stored, hex (10 bytes, more with FLG fields). */
  header: string;
  /** Bytes of the tar inside. */
  textSize: number;
}

/** Largest tar inside a gzip layer blob that goes the re-compression path (create carries bigger ones whole). */
export const MAX_GO_GZIP_TEXT = 256 * 1024 * 1024;
/** How inspect and reports name a layer blob rebuilt by re-compression. */
export function goGzipName(g: GoGzipRecord): string {
  return `gzip (Go, level ${g.level})`;
}

/** Largest gzip member header accepted (FEXTRA, FNAME, FCOMMENT included). */
export const MAX_GO_GZIP_HEADER = 64 * 1024;

export interface EndRecord {
  /** The archive's end blocks (and anything after), hex of the deflated bytes. */
  trailer: string;
  trailerSize: number;
  /** The new archive's LayoutDigest: every header, data digest and padding, then the trailer. */
  layoutSha256: string;
}

/** A tar archive's end blocks: tar.ts reads at most 4 MiB of them, so create never writes more. */
export const MAX_TRAILER_SIZE = 4 * 1024 * 1024;
/** More old or new layers than any image has; keeps a hostile list from driving loops. */
const MAX_LAYERS = 1_000_000;

const DIGEST = /^sha256:[0-9a-f]{64}$/;
const HEX = /^(?:[0-9a-f]{2})*$/;
const KINDS: readonly EntryKind[] = ['none', 'literal', 'reuse', 'delta'];
const ARCHIVE_KINDS = ['docker-legacy', 'docker-oci', 'oci-archive'];

/** A short, printable account of a JSON value, for messages (never 'undefined' or '[object Object]'). */
export function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return `a list of ${value.length}`;
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  return String(value);
}

/** Reads the fields of one record, throwing on the first bad one. */
class Fields {
  constructor(
    readonly record: string,
    readonly value: Record<string, unknown>,
  ) {}

  static of(record: string, value: unknown): Fields {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw badPatch(`${record} is ${describe(value)}, not an object`);
    return new Fields(record, value as Record<string, unknown>);
  }

  fail(name: string, want: string): never {
    throw badPatch(`${this.record} field ${name} must be ${want}, got ${describe(this.value[name])}`);
  }

  /** An integer in [0, max]. */
  count(name: string, max = Number.MAX_SAFE_INTEGER): number {
    const v = this.value[name];
    if (!Number.isSafeInteger(v) || (v as number) < 0 || (v as number) > max) this.fail(name, `an integer from 0 to ${max}`);
    return v as number;
  }
  string(name: string): string {
    const v = this.value[name];
    if (typeof v !== 'string') this.fail(name, 'a string');
    return v;
  }
  digest(name: string, optional = false): void {
    const v = this.value[name];
    if (optional && v === undefined) return;
    if (typeof v !== 'string' || !DIGEST.test(v)) this.fail(name, "a digest 'sha256:<64 hex digits>'");
  }
  boolean(name: string, optional = false): void {
    const v = this.value[name];
    if (!(optional && v === undefined) && typeof v !== 'boolean') this.fail(name, 'true or false');
  }
  hex(name: string, optional = false): void {
    const v = this.value[name];
    if (!(optional && v === undefined) && (typeof v !== 'string' || !HEX.test(v))) this.fail(name, 'hex digits');
  }
  oneOf(name: string, allowed: readonly string[]): void {
    if (!allowed.includes(this.value[name] as string)) this.fail(name, `one of ${allowed.join(', ')}`);
  }
  list(name: string, max = MAX_LAYERS): unknown[] {
    const v = this.value[name];
    if (!Array.isArray(v) || v.length > max) this.fail(name, `a list of at most ${max}`);
    return v;
  }
  object(name: string): Fields {
    return Fields.of(`${this.record} ${name}`, this.value[name]);
  }
}

/** Check every field of a decoded header; windows may be at most `maxWindowSize` bytes. */
export function checkHeader(value: unknown, maxWindowSize: number): PatchHeader {
  const h = Fields.of('header', value);
  if (h.value.tool !== 'docker-patcher') h.fail('tool', '"docker-patcher"');
  const version = h.value.formatVersion;
  if (version !== FORMAT_VERSION) {
    throw new PatcherError(ErrorCode.BadPatch, `patch header says format version ${describe(version)}; this docker-patcher reads version ${FORMAT_VERSION}`);
  }
  h.count('windowSize', maxWindowSize);
  if (h.value.windowSize === 0) h.fail('windowSize', `an integer from 1 to ${maxWindowSize}`);
  const old = h.object('old');
  old.digest('imageId');
  old.digest('manifestDigest', true);
  old.list('blobs').forEach((b, i) => checkOldBlob(Fields.of(`header old blob ${i}`, b)));
  const neu = h.object('new');
  neu.digest('imageId');
  neu.digest('manifestDigest', true);
  neu.list('tags').forEach((t, i) => typeof t !== 'string' && neu.fail(`tags[${i}]`, 'a string'));
  neu.oneOf('kind', ARCHIVE_KINDS);
  neu.count('archiveSize');
  neu.count('entries');
  neu.list('layers').forEach((l, i) => {
    const layer = Fields.of(`header new layer ${i}`, l);
    layer.digest('diffId');
    layer.count('size');
  });
  return value as PatchHeader;
}

function checkOldBlob(b: Fields): void {
  b.digest('diffId');
  b.digest('stored', true);
  const size = b.count('size');
  b.boolean('whole');
  for (const [i, r] of b.list('ranges', Number.MAX_SAFE_INTEGER).entries()) {
    const ok = Array.isArray(r) && r.length === 2 && r.every((n) => Number.isSafeInteger(n) && n >= 0) && r[0] + r[1] <= size;
    if (!ok) b.fail(`ranges[${i}]`, `[offset, length] inside its ${size} bytes`);
  }
}

/** Check every field of a decoded entry record. */
export function checkEntryRecord(value: unknown): EntryRecord {
  const r = Fields.of('entry record', value);
  r.string('name');
  r.oneOf('kind', KINDS);
  const size = r.count('size');
  if (r.value.kind === 'none' && size !== 0) r.fail('size', '0 for an entry without data');
  r.digest('sha256');
  if (r.value.blob !== undefined || r.value.kind === 'reuse') r.count('blob', MAX_LAYERS);
  r.digest('diffId', true);
  r.hex('padding', true);
  r.boolean('partialSkip', true);
  if (r.value.goGzip !== undefined) checkGoGzip(r, size);
  return value as EntryRecord;
}

function checkGoGzip(r: Fields, size: number): void {
  if (r.value.kind !== 'delta') r.fail('goGzip', "present only on a 'delta' entry");
  r.digest('diffId');
  const g = r.object('goGzip');
  if (!Number.isInteger(g.value.level) || (g.value.level as number) < -2 || (g.value.level as number) > 9) g.fail('level', 'an integer from -2 to 9');
  g.hex('header');
  const header = (g.value.header as string).length / 2;
  if (header < 10 || header > MAX_GO_GZIP_HEADER) g.fail('header', `a gzip member header of 10 to ${MAX_GO_GZIP_HEADER} bytes`);
  // Deflate never expands more than 1032:1: a larger text claim is a lie that would only cost memory.
  g.count('textSize', Math.min(MAX_GO_GZIP_TEXT, 1032 * size));
}

/** Check every field of a decoded end record; its trailer may hold at most `room` bytes. */
export function checkEndRecord(value: unknown, room: number): EndRecord {
  const e = Fields.of('end record', value);
  e.hex('trailer');
  e.count('trailerSize', Math.max(0, Math.min(MAX_TRAILER_SIZE, room)));
  e.digest('layoutSha256');
  return value as EndRecord;
}
