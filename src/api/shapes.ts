/**
 * The inputs and outputs users have, turned into what the engine takes:
 * sinks (function, Node Writable, WHATWG WritableStream) into one writer
 * that copies, images into ByteSources, patches into async iterables.
 *
 * Why a copy: the engine hands out views of buffers it reuses (the copy
 * buffer of old bytes, the WASM core's output), so a sink that keeps a
 * chunk (a Writable's queue does) would see it overwritten. The copy gathers
 * pieces into fresh SINK_CHUNK buffers, so it also turns the many small
 * writes (512-byte tar headers, padding) into few large ones.
 * Memory: one SINK_CHUNK buffer being filled, plus what the sink keeps.
 */
import { ErrorCode, PatcherError } from '../errors.js';
import { blobSource, memorySource, type ByteSource } from '../image/source.js';
import { checkedIterable, raceSignal } from './abort.js';
import type { ImageInput, NodeWritableLike, PatchInput, PatchSink } from './options.js';

/** Bytes gathered before a chunk goes to the sink. */
export const SINK_CHUNK = 256 * 1024;

/** A sink with a lifecycle: write in order, then close (success) or abort (failure). */
export interface OpenSink {
  write(chunk: Uint8Array): Promise<void>;
  close(): Promise<void>;
  abort(reason: unknown): Promise<void>;
}

function isNodeWritable(x: unknown): x is NodeWritableLike {
  const w = x as NodeWritableLike;
  return typeof w?.write === 'function' && typeof w.once === 'function' && typeof w.end === 'function';
}

function isWritableStream(x: unknown): x is WritableStream<Uint8Array> {
  return typeof (x as WritableStream)?.getWriter === 'function';
}

function sinkFailed(err: unknown): PatcherError {
  if (err instanceof PatcherError) return err;
  return new PatcherError(ErrorCode.Io, `output failed: ${(err as Error)?.message ?? String(err)}`, { cause: err });
}

/** Open `sink` for one run; waits are raced against `signal`. */
export function openSink(sink: PatchSink, signal: AbortSignal | undefined, what: string): OpenSink {
  const target = isWritableStream(sink) ? streamTarget(sink, signal, what)
    : isNodeWritable(sink) ? writableTarget(sink, signal, what)
    : typeof sink === 'function' ? functionTarget(sink)
    : undefined;
  if (!target) throw new PatcherError(ErrorCode.Usage, 'the sink must be a function, a Node Writable or a WritableStream');
  return gathering(target);
}

function functionTarget(fn: (chunk: Uint8Array) => void | Promise<void>): OpenSink {
  return { write: async (chunk) => void (await fn(chunk)), close: async () => {}, abort: async () => {} };
}

function writableTarget(ws: NodeWritableLike, signal: AbortSignal | undefined, what: string): OpenSink {
  let failure: unknown;
  const onError = (err: unknown) => (failure ??= err);
  ws.once('error', onError);
  /** Resolves on `event`, rejects on 'error' or 'close' (a destroyed stream never drains). */
  const until = (event: string) => new Promise<void>((resolve, reject) => {
    const done = (err?: unknown) => {
      ws.removeListener(event, ok);
      ws.removeListener('error', done);
      ws.removeListener('close', closed);
      if (err) reject(err);
      else resolve();
    };
    const ok = () => done();
    const closed = () => done(failure ?? new Error('stream closed early'));
    ws.once(event, ok);
    ws.once('error', done);
    ws.once('close', closed);
  });
  return {
    async write(chunk) {
      if (failure) throw sinkFailed(failure);
      if (!ws.write(chunk)) await raceSignal(until('drain'), signal, what).catch((err) => { throw sinkFailed(err); });
    },
    async close() {
      if (failure) throw sinkFailed(failure);
      const finished = until('finish');
      ws.end();
      await finished.catch((err) => { throw sinkFailed(err); });
      ws.removeListener('error', onError);
    },
    async abort() {
      // Destroyed without an error: an 'error' event the caller does not listen for would crash the process.
      ws.destroy();
    },
  };
}

function streamTarget(stream: WritableStream<Uint8Array>, signal: AbortSignal | undefined, what: string): OpenSink {
  const writer = stream.getWriter();
  let failure: unknown;
  return {
    async write(chunk) {
      await raceSignal(writer.ready, signal, what).catch((err) => { throw sinkFailed(err); });
      if (failure) throw sinkFailed(failure);
      // Not awaited: `ready` is the backpressure; a failed write surfaces at the next one or at close.
      writer.write(chunk).catch((err) => (failure ??= err));
    },
    async close() {
      await writer.close().catch((err) => { throw sinkFailed(failure ?? err); });
    },
    async abort(reason) {
      await writer.abort(reason).catch(() => undefined);
    },
  };
}

/** Copy what the engine writes into fresh SINK_CHUNK buffers; the sink owns each. */
function gathering(target: OpenSink): OpenSink {
  let buffer: Uint8Array | undefined;
  let filled = 0;
  return {
    async write(chunk) {
      for (let at = 0; at < chunk.length; ) {
        if (!buffer) {
          // A large piece goes out as one copy of its own.
          if (chunk.length - at >= SINK_CHUNK) return target.write(chunk.slice(at));
          buffer = new Uint8Array(SINK_CHUNK);
          filled = 0;
        }
        const n = Math.min(SINK_CHUNK - filled, chunk.length - at);
        buffer.set(chunk.subarray(at, at + n), filled);
        filled += n;
        at += n;
        if (filled === SINK_CHUNK) {
          const full = buffer;
          buffer = undefined;
          await target.write(full);
        }
      }
    },
    async close() {
      if (buffer && filled > 0) await target.write(buffer.subarray(0, filled));
      buffer = undefined;
      await target.close();
    },
    abort: (reason) => target.abort(reason),
  };
}

/** An image argument as a ByteSource. */
export function imageSource(input: ImageInput): ByteSource {
  if (input instanceof Uint8Array) return memorySource(input);
  if (typeof Blob !== 'undefined' && input instanceof Blob) return blobSource(input);
  const src = input as ByteSource;
  if (typeof src?.read !== 'function' || typeof src.size !== 'number') {
    throw new PatcherError(ErrorCode.Usage, 'an image must be a Uint8Array, a Blob or a ByteSource');
  }
  return src;
}

/** A patch argument as chunks, pulls raced against `signal`, cancelled by return(). */
export function patchChunks(input: PatchInput, signal: AbortSignal | undefined, what: string): AsyncIterable<Uint8Array> {
  if (input instanceof Uint8Array) return checkedIterable(once(input), signal, what);
  if (typeof (input as ReadableStream)?.getReader === 'function') return checkedIterable(readerChunks(input as ReadableStream<Uint8Array>), signal, what);
  if (typeof (input as AsyncIterable<Uint8Array>)?.[Symbol.asyncIterator] === 'function') {
    return checkedIterable(destroying(input as AsyncIterable<Uint8Array>), signal, what);
  }
  throw new PatcherError(ErrorCode.Usage, 'a patch must be a Uint8Array, a ReadableStream or an AsyncIterable of Uint8Array');
}

async function* once(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}

/** A ReadableStream's chunks through its reader (not every browser makes streams async-iterable); return() cancels it. */
function readerChunks(stream: ReadableStream<Uint8Array>): AsyncIterable<Uint8Array> {
  return {
    [Symbol.asyncIterator]() {
      const reader = stream.getReader();
      return {
        async next() {
          const { done, value } = await reader.read();
          if (done) return { done: true, value: undefined };
          if (!(value instanceof Uint8Array)) throw new PatcherError(ErrorCode.Usage, 'the patch stream must yield Uint8Array chunks');
          return { done: false, value };
        },
        async return() {
          await reader.cancel().catch(() => undefined);
          return { done: true, value: undefined };
        },
      };
    },
  };
}

/** A Node Readable is destroyed when iteration stops early, even with a read pending. */
function destroying(source: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  const destroy = (source as { destroy?: () => void }).destroy;
  if (typeof destroy !== 'function') return source;
  return {
    [Symbol.asyncIterator]() {
      const it = source[Symbol.asyncIterator]();
      return {
        next: () => it.next(),
        async return() {
          destroy.call(source);
          return { done: true, value: undefined };
        },
      };
    },
  };
}
