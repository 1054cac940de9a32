/**
 * createPatch / applyPatch / inspectPatch as users call them, for a given
 * platform (its default hasher, and whether file paths mean anything).
 * src/index.ts binds them to the browser defaults, src/index.node.ts and
 * src/node.ts to Node's. Each run: adapt the inputs and the sink
 * (shapes.ts), thread the AbortSignal through (abort.ts), call the engine,
 * then close the sink on success or abort it on failure, and close what
 * the run opened itself.
 */
import { applyPatch as engineApply } from '../delta/apply.js';
import { createPatch as engineCreate } from '../delta/create.js';
import { inspectPatch as engineInspect } from '../delta/inspect.js';
import type { ApplyResult, PatchSummary } from '../delta/types.js';
import type { HasherFactory } from '../image/hash.js';
import type { ByteSource } from '../image/source.js';
import { abortableOld, abortableSource, checkSignal, interrupted } from './abort.js';
import type { ApplyOptions, CreateOptions, ImageInput, OldImageArgument, PatchInput, PatchSink } from './options.js';
import { imageSource, openSink, patchChunks, type OpenSink } from './shapes.js';

export interface Platform {
  hasher: HasherFactory;
  /** A faster hasher that takes loading (the core's sha256); `hasher` when absent. */
  loadHasher?(): Promise<HasherFactory>;
  /** Open a file path (Node); absent where paths mean nothing. */
  openPath?(path: string): Promise<ByteSource>;
}

/** Sources a run opened from paths, closed when it ends. */
class Opened {
  readonly #sources: ByteSource[] = [];
  readonly #streams: Array<AsyncIterable<Uint8Array>> = [];
  constructor(readonly platform: Platform) {}

  async image(input: ImageInput | string): Promise<ByteSource> {
    if (typeof input !== 'string') return imageSource(input);
    return this.#open(input);
  }

  /** The patch's chunks, cancelled when the run ends even if the engine never got to close them. */
  async patch(input: PatchInput | string, signal: AbortSignal | undefined, what: string): Promise<AsyncIterable<Uint8Array>> {
    const chunks = closable(patchChunks(typeof input === 'string' ? (await this.#open(input)).stream() : input, signal, what));
    this.#streams.push(chunks);
    return chunks;
  }

  async #open(path: string): Promise<ByteSource> {
    if (!this.platform.openPath) throw new TypeError('file paths are taken only by docker-patcher/node');
    const source = await this.platform.openPath(path);
    this.#sources.push(source);
    return source;
  }

  async close(): Promise<void> {
    await Promise.all(this.#streams.map((s) => (s as Closable).close()));
    await Promise.all(this.#sources.map((s) => s.close?.().catch(() => undefined)));
  }
}

type Closable = AsyncIterable<Uint8Array> & { close(): Promise<void> };

/** `source`, remembering the iterators it hands out so close() can return() those still open. */
function closable(source: AsyncIterable<Uint8Array>): Closable {
  const open = new Set<AsyncIterator<Uint8Array>>();
  return {
    [Symbol.asyncIterator]() {
      const it = source[Symbol.asyncIterator]();
      open.add(it);
      return {
        next: async () => {
          const r = await it.next();
          if (r.done) open.delete(it);
          return r;
        },
        return: async () => {
          open.delete(it);
          return (await it.return?.()) ?? { done: true, value: undefined };
        },
      };
    },
    async close() {
      await Promise.all([...open].map((it) => it.return?.().catch(() => undefined)));
      open.clear();
    },
  };
}

/** Run `work` against `sink`: close it on success, abort it on failure; an aborted signal always rejects with INTERRUPTED. */
async function guarded<T>(what: string, platform: Platform, sink: OpenSink | undefined, signal: AbortSignal | undefined, work: (opened: Opened) => Promise<T>): Promise<T> {
  const opened = new Opened(platform);
  try {
    const result = await work(opened);
    checkSignal(signal, what);
    await sink?.close();
    return result;
  } catch (err) {
    const error = signal?.aborted ? interrupted(what, signal) : err;
    await sink?.abort(error);
    throw error;
  } finally {
    await opened.close();
  }
}

/** The caller's hasher, else the platform's (loaded once, if it loads). */
async function defaultHasher(platform: Platform, given: HasherFactory | undefined): Promise<HasherFactory> {
  return given ?? (platform.loadHasher ? platform.loadHasher() : platform.hasher);
}

export async function createWith(platform: Platform, oldImage: ImageInput | string, newImage: ImageInput | string, sink: PatchSink, options: CreateOptions = {}): Promise<PatchSummary> {
  const { signal, hasher: given, ...rest } = options;
  checkSignal(signal, 'create');
  const hasher = await defaultHasher(platform, given);
  const out = openSink(sink, signal, 'create');
  return guarded('create', platform, out, signal, async (opened) => {
    const old = abortableSource(await opened.image(oldImage), signal, 'create');
    const neu = abortableSource(await opened.image(newImage), signal, 'create');
    return engineCreate(old, neu, (chunk) => (checkSignal(signal, 'create'), out.write(chunk)), { ...rest, hasher });
  });
}

export async function applyWith(platform: Platform, oldImage: OldImageArgument | string, patch: PatchInput | string, sink: PatchSink, options: ApplyOptions = {}): Promise<ApplyResult> {
  const { signal, hasher: given, ...rest } = options;
  checkSignal(signal, 'apply');
  const hasher = await defaultHasher(platform, given);
  const out = openSink(sink, signal, 'apply');
  return guarded('apply', platform, out, signal, async (opened) => {
    const old = typeof oldImage === 'object' && 'open' in oldImage ? oldImage : await opened.image(oldImage);
    const chunks = await opened.patch(patch, signal, 'apply');
    return engineApply(abortableOld(old, signal, 'apply'), chunks, (chunk) => (checkSignal(signal, 'apply'), out.write(chunk)), { ...rest, hasher });
  });
}

export async function inspectWith(platform: Platform, patch: PatchInput | string, options: { signal?: AbortSignal } = {}): Promise<PatchSummary> {
  const { signal } = options;
  checkSignal(signal, 'inspect');
  return guarded('inspect', platform, undefined, signal, async (opened) => engineInspect(await opened.patch(patch, signal, 'inspect')));
}
