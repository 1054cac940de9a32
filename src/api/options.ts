/**
 * The public shapes of createPatch / applyPatch: what they take (the inputs
 * users already have) and their options. Platform-neutral; the Node entry
 * adds file paths. The internal engine (src/delta/) takes only ByteSources,
 * async iterables and a function sink, and reuses its buffers; src/api/
 * adapts one to the other.
 */
import type { ApplyOptions as EngineApplyOptions, CreateOptions as EngineCreateOptions } from '../delta/types.js';
import type { OldImageProvider } from '../delta/old-image.js';
import type { HasherFactory } from '../image/hash.js';
import type { ByteSource } from '../image/source.js';

/**
 * The part of a Node stream.Writable the library uses (duck-typed, so the
 * platform-neutral entry imports no Node module). fs.WriteStream, a socket,
 * an http response and a PassThrough all fit.
 */
export interface NodeWritableLike {
  write(chunk: Uint8Array): boolean;
  end(callback?: () => void): unknown;
  destroy(error?: Error): unknown;
  once(event: string, listener: (...args: any[]) => void): unknown;
  removeListener(event: string, listener: (...args: any[]) => void): unknown;
  readonly writableFinished?: boolean;
}

/**
 * Where output bytes go, in order:
 * - a function, called once per chunk; the promise it returns (if any) is
 *   the backpressure;
 * - a Node Writable: written with the `drain` idiom, ended on success and
 *   destroyed on failure (as stream.pipeline does);
 * - a WHATWG WritableStream: written through its writer (awaiting `ready`),
 *   closed on success and aborted on failure.
 *
 * Every chunk handed to a sink is its own: the sink may keep it, queue it or
 * transfer it. (The engine reuses its buffers; the library copies at this
 * boundary, gathering small pieces into chunks of up to SINK_CHUNK bytes.)
 */
export type PatchSink = ((chunk: Uint8Array) => void | Promise<void>) | NodeWritableLike | WritableStream<Uint8Array>;

/** An image archive (`docker save` or OCI): bytes in memory, a Blob/File, or any ByteSource. The Node entry also takes a file path. */
export type ImageInput = ByteSource | Uint8Array | Blob;

/** The old image for apply: an archive as above, or a provider (e.g. the Docker daemon, see docker-patcher/node). */
export type OldImageArgument = ImageInput | OldImageProvider;

/**
 * A patch: bytes in memory, a WHATWG ReadableStream (a fetch() body), or any
 * AsyncIterable of chunks (a Node Readable such as fs.createReadStream). Read
 * strictly front to back. The Node entry also takes a file path.
 */
export type PatchInput = Uint8Array | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>;

interface Cancellable {
  /**
   * Cancels the run: the promise rejects with a PatcherError of code
   * INTERRUPTED (exit status 130 in the CLI), its `cause` the signal's
   * reason. Diff workers are terminated, the patch stream is cancelled, the
   * sink is aborted (a Writable destroyed, a WritableStream aborted, a
   * fileSink's temporary file removed) and files the call opened itself are
   * closed, all before the promise rejects. It takes effect at the next read
   * or write, so within about one diff window's time.
   */
  signal?: AbortSignal;
  /**
   * Computes sha256. Default: node:crypto when imported in Node (the `node`
   * export condition, or docker-patcher/node), else the WASM core's own
   * sha256 (about 1.5-2x browserHasher, the plain TypeScript one, which
   * stands in where the core's instance cannot load).
   */
  hasher?: HasherFactory;
}

/** Options of createPatch; see each field. */
export interface CreateOptions extends Omit<EngineCreateOptions, 'hasher'>, Cancellable {}

/** Options of applyPatch; see each field. */
export interface ApplyOptions extends Omit<EngineApplyOptions, 'hasher'>, Cancellable {}
