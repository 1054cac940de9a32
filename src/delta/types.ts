/**
 * The public shapes of create / apply / inspect. Everything here is
 * platform-neutral: bytes come from ByteSources (a file in Node, a File/Blob
 * in a browser) and go to sinks, so the same code runs in the CLI and in the
 * browser demo's worker.
 */
import type { HasherFactory } from '../image/hash.js';
import type { ByteSource } from '../image/source.js';
import type { LayerSpool } from '../image/layer-source.js';

/**
 * The engine's sink: receives output bytes in order; the returned promise
 * is the backpressure. A chunk is only valid during the call (apply reuses
 * its buffers). The public API (src/api/) takes a PatchSink instead and
 * copies at that boundary, so users' sinks may keep what they get.
 */
export type ByteSink = (chunk: Uint8Array) => Promise<void> | void;

export type Phase = 'index' | 'plan' | 'diff' | 'read-old' | 'rebuild' | 'verify' | 'load';

export interface Progress {
  phase: Phase;
  /** Units done and in all, in bytes unless said otherwise. */
  done: number;
  total: number;
  /** What is being worked on (a layer, a file). */
  detail?: string;
}

export interface CreateOptions {
  /**
   * Bytes of changed data per diff window. Diffing a window needs about
   * 7x its reference plus 4x its new bytes (diff-budget.ts; 1 MiB: about
   * 13 MiB per window diffed at once), and apply holds about 3x a window.
   * References are the old versions of the same files, so window size
   * barely moves patch size (nginx pair: 1 to 8 MiB within 0.6%); smaller
   * windows spread over more workers and keep apply small on devices
   * (nginx pair: apply peak RSS ~92 MB at 1 MiB, ~96 MB at 2 MiB). Default
   * 1 MiB; 64 KiB to 256 MiB.
   */
  windowSize?: number;
  /**
   * Most windows diffed in parallel (worker threads in Node), as far as
   * diffMemory allows. Default: 2, or 1 where workers are unavailable.
   */
  workers?: number;
  /**
   * Bytes of memory for diffing windows in parallel: each window running
   * at once needs about 7x its reference + 4x its new bytes (its core
   * keeps that much: WASM memory never shrinks) plus ~12 MiB for its
   * worker, so create runs as many windows at once as the largest of them
   * fits (at least one, on the calling thread). Default 64 MiB: 1 MiB
   * windows with small references run two at a time; the nginx pair (a
   * 3 MiB reference) one at a time: its CLI create peaks at ~114 MB RSS
   * instead of ~182 MB with two, and takes 1.1-1.4x as long on an idle
   * 2-core machine (medians 5.1 s vs 3.7 s; 1G here runs two).
   */
  diffMemory?: number;
  /** Computes sha256. Required here; the public API (src/api/options.ts) defaults it per platform. */
  hasher: HasherFactory;
  /** Called as work advances, a few times a second at most. */
  onProgress?: (progress: Progress) => void;
}

export interface ApplyOptions {
  /** Expected new image ID, full ('sha256:…' or hex) or a short prefix; checked before any work. */
  expectNewId?: string;
  /**
   * Leave out layers the patch reuses whole (for a daemon that already holds
   * them; Docker's classic store loads such an archive). The output is then
   * not the full archive, but every rebuilt blob is still checked.
   */
  omitReused?: boolean;
  /** Computes sha256. Required here; the public API (src/api/options.ts) defaults it per platform. */
  hasher: HasherFactory;
  /**
   * Where an old layer the patch reads into, stored gzip in the old
   * archive, is kept inflated for random access. Default: memory (its
   * whole uncompressed size, e.g. 17.5 MB for the registry-gz pair's top
   * layer); the CLI spools it to a file in its temp dir (source.node.ts
   * fileSpool), trading that memory for one write and the reads of it.
   */
  spool?: LayerSpool;
  onProgress?: (progress: Progress) => void;
}

/** What a patch does to one outer entry of the new archive. */
export interface EntrySummary {
  name: string;
  kind: 'none' | 'literal' | 'reuse' | 'delta';
  /** Bytes of the new entry's data. */
  size: number;
  /** Bytes this entry takes in the patch (frames included). */
  patchBytes: number;
  /** For layers: the diff_id. */
  diffId?: string;
  /** For a changed layer: the gzip files in it rebuilt through their exact form. */
  gzip?: GzipSummary[];
  /** For a changed compressed layer blob rebuilt by re-compressing its tar: how, e.g. "gzip (Go, level 6)". */
  compressed?: string;
}

/** A gzip file inside a layer, diffed decoded (one GZIP frame). */
export interface GzipSummary {
  /** Path in the layer. */
  name: string;
  /** Bytes of the (compressed) file. */
  size: number;
  /** Bytes its GZIP frame takes in the patch. */
  patchBytes: number;
}

export interface PatchSummary {
  formatVersion: number;
  oldImageId: string;
  newImageId: string;
  /** The images' manifest digests (their IDs in Docker's containerd store), when their archives hold a manifest. */
  oldManifestDigest?: string;
  newManifestDigest?: string;
  newTags: string[];
  newArchiveSize: number;
  patchSize: number;
  windowSize: number;
  entries: EntrySummary[];
}

export interface ApplyResult {
  newImageId: string;
  tags: string[];
  /** Bytes written to the sink. */
  bytesWritten: number;
  /** True when omitReused left layers out. */
  partial: boolean;
  /** Layers of the rebuilt image checked against its config's diff_ids (the config itself against the new image ID). */
  layersVerified: number;
}

export type { ByteSource, HasherFactory };
