/**
 * Blob upload as the distribution spec has it: POST starts a session, then
 * either one PUT `?digest=` with the whole blob (monolithic) or PATCHes of
 * `chunkSize` bytes with Content-Range and a closing PUT (chunked). The
 * bytes stream from `open()` with backpressure; the registry checks the
 * digest and refuses the PUT when it does not match.
 *
 * Memory: monolithic holds one chunk of the source; chunked one chunk of
 * at most `chunkSize` bytes (the PATCH body is assembled to know its length).
 */
import { ErrorCode, PatcherError } from '../errors.js';
import type { SendOptions } from './transport.js';

export interface UploadOptions {
  /** Send the blob in PATCH requests of this many bytes; 0 or absent = one monolithic PUT. */
  chunkSize?: number;
}

export interface UploadTransport {
  start(): Promise<URL>;
  send(url: URL, method: 'PATCH' | 'PUT', headers: Record<string, string>, body?: SendOptions['body']): Promise<URL>;
}

const withDigest = (url: URL, digest: string): URL => {
  const next = new URL(url);
  next.searchParams.set('digest', digest);
  return next;
};

export async function uploadBlob(transport: UploadTransport, digest: string, size: number, open: () => AsyncIterable<Uint8Array>, options: UploadOptions): Promise<void> {
  const chunkSize = options.chunkSize ?? 0;
  let url = await transport.start();
  const octets = { 'Content-Type': 'application/octet-stream' };
  if (!chunkSize || chunkSize >= size) {
    await transport.send(withDigest(url, digest), 'PUT', octets, { stream: counted(open(), size), length: size });
    return;
  }
  let offset = 0;
  for await (const piece of pieces(open(), chunkSize)) {
    const range = { 'Content-Range': `${offset}-${offset + piece.length - 1}` };
    url = await transport.send(url, 'PATCH', { ...octets, ...range }, piece);
    offset += piece.length;
  }
  if (offset !== size) throw new PatcherError(ErrorCode.Io, `blob ${digest} changed while uploading: ${offset} bytes, expected ${size}`);
  await transport.send(withDigest(url, digest), 'PUT', octets);
}

/** Pass the stream through, failing if it is not exactly `size` bytes (a Content-Length promise). */
async function* counted(stream: AsyncIterable<Uint8Array>, size: number): AsyncGenerator<Uint8Array> {
  let seen = 0;
  for await (const chunk of stream) {
    seen += chunk.length;
    if (seen > size) break;
    yield chunk;
  }
  if (seen !== size) throw new PatcherError(ErrorCode.Io, `upload source changed: ${seen} bytes, expected ${size}`);
}

/** Regroup a stream into pieces of exactly `size` bytes (the last may be shorter). */
async function* pieces(stream: AsyncIterable<Uint8Array>, size: number): AsyncGenerator<Uint8Array> {
  let buffer = new Uint8Array(size);
  let filled = 0;
  for await (const chunk of stream) {
    for (let pos = 0; pos < chunk.length; ) {
      const n = Math.min(size - filled, chunk.length - pos);
      buffer.set(chunk.subarray(pos, pos + n), filled);
      filled += n;
      pos += n;
      if (filled === size) {
        yield buffer;
        buffer = new Uint8Array(size);
        filled = 0;
      }
    }
  }
  if (filled) yield buffer.subarray(0, filled);
}
