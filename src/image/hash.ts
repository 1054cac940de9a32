/**
 * Hashing without a platform dependency: callers pass a HasherFactory
 * (nodeHasher in source.node.ts, or any sha256 with this shape in a browser).
 * Memory: the hasher's own state only; bytes are fed through, never kept.
 */

export interface Hasher {
  update(bytes: Uint8Array): void;
  /** The digest as 'sha256:<64 hex digits>'. Call once. */
  digest(): string;
}

/** Makes a fresh sha256 Hasher. */
export type HasherFactory = () => Hasher;

/** sha256 of one buffer, as 'sha256:<hex>'. */
export function hashBytes(newHasher: HasherFactory, bytes: Uint8Array): string {
  const hasher = newHasher();
  hasher.update(bytes);
  return hasher.digest();
}

/** sha256 of everything an async iterable yields. */
export async function hashStream(newHasher: HasherFactory, chunks: AsyncIterable<Uint8Array>): Promise<string> {
  const hasher = newHasher();
  for await (const chunk of chunks) hasher.update(chunk);
  return hasher.digest();
}

/** Pass chunks through unchanged while feeding them to `hasher`. */
export async function* hashThrough(hasher: Hasher, chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  for await (const chunk of chunks) {
    hasher.update(chunk);
    yield chunk;
  }
}

/** 'sha256:<hex>' -> '<hex>' (checks the form). Returns null if it is not one. */
export function sha256Hex(digest: string): string | null {
  const m = /^sha256:([0-9a-f]{64})$/.exec(digest);
  return m ? m[1] : null;
}
