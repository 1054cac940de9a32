/**
 * sha256 of one stream at a time on the hash worker (hash-worker.ts), so
 * the page's worker can go on rebuilding while the archive is hashed; on
 * this thread where that worker cannot start.
 *
 * Memory: at most MAX_IN_FLIGHT bytes of copies waiting for the hash
 * worker: update() waits for it to catch up beyond that.
 */
import type { Hasher, HasherFactory } from '../src/image/hash.js';

const MAX_IN_FLIGHT = 32 * 1024 * 1024;

type HashReply = { ready: true } | { done: number } | { digest: string } | { failed: string };

export interface StreamHasher {
  /** Resolves once the bytes are taken (copied: the caller may reuse `bytes`). */
  update(bytes: Uint8Array): Promise<void>;
  digest(): Promise<string>;
}

/** Makes a StreamHasher (one at a time); `onWorker` says where it hashes. */
export interface StreamHashers {
  (): StreamHasher;
  onWorker: boolean;
}

/** Starts the hash worker; resolves to a source of StreamHashers (on that worker, or on this thread with `local`). */
export async function streamHashers(url: URL, local: () => HasherFactory): Promise<StreamHashers> {
  const worker = await startWorker(url);
  if (!worker) return Object.assign(() => localStream(local()()), { onWorker: false });
  const remote = new RemoteHashing(worker);
  return Object.assign(() => remote.begin(), { onWorker: true });
}

function startWorker(url: URL): Promise<Worker | null> {
  if (typeof Worker !== 'function') return Promise.resolve(null);
  let worker: Worker;
  try {
    worker = new Worker(url, { type: 'module' });
  } catch {
    return Promise.resolve(null);
  }
  return new Promise((resolve) => {
    worker.onmessage = (event: MessageEvent<HashReply>) => {
      if ('ready' in event.data) return resolve(worker);
      worker.terminate();
      resolve(null);
    };
    worker.onerror = (event) => {
      event.preventDefault();
      worker.terminate();
      resolve(null);
    };
  });
}

function localStream(hasher: Hasher): StreamHasher {
  return {
    async update(bytes) {
      hasher.update(bytes);
    },
    async digest() {
      return hasher.digest();
    },
  };
}

/** The hash worker, one stream at a time (the page's worker runs one request at a time). */
class RemoteHashing {
  #inFlight = 0;
  #caughtUp: (() => void) | undefined;
  #digest: { resolve(d: string): void; reject(e: Error): void } | undefined;
  #failure: Error | undefined;

  constructor(readonly worker: Worker) {
    worker.onmessage = (event: MessageEvent<HashReply>) => this.#reply(event.data);
    worker.onerror = (event) => {
      event.preventDefault();
      this.#fail(new Error(`the hash worker failed: ${event.message}`));
    };
  }

  begin(): StreamHasher {
    this.#inFlight = 0;
    this.worker.postMessage('begin');
    return {
      update: (bytes) => this.#update(bytes),
      digest: () => {
        if (this.#failure) return Promise.reject(this.#failure);
        return new Promise((resolve, reject) => {
          this.#digest = { resolve, reject };
          this.worker.postMessage('digest');
        });
      },
    };
  }

  async #update(bytes: Uint8Array): Promise<void> {
    if (this.#failure) throw this.#failure;
    const copy = bytes.slice();
    this.#inFlight += copy.length;
    this.worker.postMessage(copy, [copy.buffer]);
    if (this.#inFlight > MAX_IN_FLIGHT) await new Promise<void>((resolve) => (this.#caughtUp = resolve));
  }

  #reply(msg: HashReply): void {
    if ('done' in msg) {
      this.#inFlight -= msg.done;
      if (this.#inFlight <= MAX_IN_FLIGHT / 2) this.#wake();
    } else if ('digest' in msg) {
      this.#digest?.resolve(msg.digest);
      this.#digest = undefined;
    } else if ('failed' in msg) this.#fail(new Error(`the hash worker failed: ${msg.failed}`));
  }

  #wake(): void {
    const wake = this.#caughtUp;
    this.#caughtUp = undefined;
    wake?.();
  }

  #fail(err: Error): void {
    this.#failure = err;
    this.#wake();
    this.#digest?.reject(err);
    this.#digest = undefined;
  }
}
