/**
 * AbortSignal support from outside the engine: every read of an input, every
 * chunk of the patch and every write to the sink checks the signal, so an
 * abort surfaces as a throw at the engine's next step and its own cleanup
 * (terminating workers, closing the patch stream) runs as on any error.
 * Waits that could last (a stalled patch stream, a sink not draining) are
 * raced against the signal.
 */
import { ErrorCode, PatcherError } from '../errors.js';
import type { OldImage, OldImageInput } from '../delta/old-image.js';
import type { ByteSource } from '../image/source.js';

/** The one error an aborted run rejects with. */
export function interrupted(what: string, signal: AbortSignal): PatcherError {
  return new PatcherError(ErrorCode.Interrupted, `${what} interrupted`, { cause: signal.reason });
}

export function checkSignal(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw interrupted(what, signal);
}

/** `work`, or a rejection as soon as `signal` aborts (the work itself goes on; callers clean it up). */
export function raceSignal<T>(work: Promise<T>, signal: AbortSignal | undefined, what: string): Promise<T> {
  if (!signal) return work;
  checkSignal(signal, what);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(interrupted(what, signal));
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** A source whose every read checks the signal first. */
export function abortableSource(src: ByteSource, signal: AbortSignal | undefined, what: string): ByteSource {
  if (!signal) return src;
  const wrapped: ByteSource = {
    size: src.size,
    read(offset, length) {
      checkSignal(signal, what);
      return src.read(offset, length);
    },
    stream(offset, length, chunkSize) {
      return checkedIterable(src.stream(offset, length, chunkSize), signal, what);
    },
    close: src.close?.bind(src),
  };
  if (src.readInto) {
    const readInto = src.readInto.bind(src);
    wrapped.readInto = (offset, target) => {
      checkSignal(signal, what);
      return readInto(offset, target);
    };
  }
  return wrapped;
}

/** The old image input with the same checks on every layer it hands out. */
export function abortableOld(input: OldImageInput, signal: AbortSignal | undefined, what: string): OldImageInput {
  if (!signal) return input;
  if (!('open' in input)) return abortableSource(input, signal, what);
  return {
    async open(needed) {
      const old: OldImage = await raceSignal(input.open(needed), signal, what);
      return {
        imageId: old.imageId,
        blob: async (b) => abortableSource(await raceSignal(old.blob(b), signal, what), signal, what),
        close: old.close?.bind(old),
      };
    },
  };
}

/**
 * Chunks of `source`, each pull raced against the signal. return() reaches
 * the source at once, even while a pull is pending, so a stalled stream is
 * cancelled rather than waited for.
 */
export function checkedIterable(source: AsyncIterable<Uint8Array>, signal: AbortSignal | undefined, what: string): AsyncIterable<Uint8Array> {
  return {
    [Symbol.asyncIterator]() {
      const it = source[Symbol.asyncIterator]();
      let pending = false;
      return {
        next() {
          pending = true;
          const pull = it.next();
          pull.then(() => (pending = false), () => (pending = false));
          return raceSignal(pull, signal, what);
        },
        async return() {
          // An async generator queues return() behind a pending next(): do not wait on a stalled one.
          const done = it.return?.();
          if (!pending) await done;
          else done?.catch(() => undefined);
          return { done: true, value: undefined };
        },
      };
    },
  };
}
