/**
 * HTTP/1.1 exchanges with the Engine API over Node's own `http` module.
 *
 * One exchange = one connection (no keep-alive agent: a stale pooled socket is
 * a worse failure than a few extra connects on a local socket). The request
 * body, when there is one, is pumped from an async iterable with backpressure:
 * the next chunk is pulled only after `write()` accepted the previous one or
 * `drain` fired, so a slow daemon slows the producer and nothing is buffered
 * beyond the socket's high-water mark. Memory: one chunk in flight plus the
 * socket buffers (~64 KiB each way).
 *
 * Transport failures become PatcherError DOCKER with a one-line message:
 *   docker: cannot reach the daemon at unix:///var/run/docker.sock (ENOENT)
 *   docker: connection to the daemon at tcp://h:2375 failed (ECONNRESET)
 */
import http from 'node:http';
import { ErrorCode, PatcherError } from '../errors.js';
import type { DockerEndpoint } from './host.js';

export interface ExchangeOptions {
  method: 'GET' | 'POST' | 'DELETE' | 'HEAD';
  /** Path with query string, e.g. `/v1.41/images/foo/json`. */
  path: string;
  headers?: Record<string, string>;
  /** Streamed request body (sent chunked). Its own errors are rethrown unchanged. */
  body?: AsyncIterable<Uint8Array>;
  /** Abort if connecting takes longer than this, ms. */
  connectTimeoutMs: number;
  /** Abort after this long without socket activity, ms; 0 = never. */
  idleTimeoutMs: number;
}

export interface Exchange {
  response: http.IncomingMessage;
  /**
   * Settles once the request body is fully sent or abandoned (the daemon
   * closed early, or abort()). Rejects only with the body source's own error,
   * so a caller can tell "our input broke" from "the daemon said no".
   */
  bodyDone: Promise<void>;
  /** Tear the connection down (idempotent). */
  abort(): void;
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** Map a socket-level failure to our one-line DOCKER error. */
export function transportError(endpoint: DockerEndpoint, err: unknown, connected: boolean): PatcherError {
  if (err instanceof PatcherError) return err;
  const e = err as NodeJS.ErrnoException;
  const code = e?.code ?? (e?.message ? oneLine(e.message) : 'unknown error');
  const message = connected
    ? `docker: connection to the daemon at ${endpoint.url} failed (${code})`
    : `docker: cannot reach the daemon at ${endpoint.url} (${code})`;
  return new PatcherError(ErrorCode.Docker, message, { cause: err });
}

function timeoutError(what: string, ms: number): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(`${what} timed out after ${ms} ms`);
  err.code = 'ETIMEDOUT';
  return err;
}

/**
 * Open an exchange: send the request (pumping `body` if given) and resolve
 * when the response headers arrive. Rejects with the body source's error if
 * that failed first, else with a DOCKER transport error.
 */
export function openExchange(endpoint: DockerEndpoint, opts: ExchangeOptions): Promise<Exchange> {
  const target =
    endpoint.kind === 'unix'
      ? { socketPath: endpoint.socketPath }
      : { host: endpoint.hostname, port: endpoint.port };
  const headers: Record<string, string> = { Host: 'docker', ...opts.headers };
  if (opts.body) headers['Transfer-Encoding'] = 'chunked';
  const req = http.request({ ...target, method: opts.method, path: opts.path, headers, agent: false });
  let connected = false;
  let sourceError: { error: unknown } | undefined;

  req.on('socket', (socket) => {
    if (!socket.connecting) {
      connected = true;
      return;
    }
    const timer = setTimeout(
      () => req.destroy(timeoutError('connect', opts.connectTimeoutMs)),
      opts.connectTimeoutMs,
    );
    socket.once('connect', () => {
      connected = true;
      clearTimeout(timer);
    });
    socket.once('close', () => clearTimeout(timer));
  });
  if (opts.idleTimeoutMs > 0) {
    req.setTimeout(opts.idleTimeoutMs, () => req.destroy(timeoutError('request', opts.idleTimeoutMs)));
  }

  const bodyDone = opts.body
    ? pumpBody(req, opts.body).catch((error: unknown) => {
        sourceError = { error };
        req.destroy(error instanceof Error ? error : new Error(String(error)));
        throw error;
      })
    : (req.end(), Promise.resolve());
  bodyDone.catch(() => {}); // observed by the caller through Exchange.bodyDone

  return new Promise<Exchange>((resolve, reject) => {
    req.once('response', (response) => {
      // A response error after the headers is a transport error too.
      response.on('error', () => {});
      resolve({ response, bodyDone, abort: () => req.destroy() });
    });
    req.on('error', (err) => {
      if (sourceError) reject(sourceError.error);
      else reject(transportError(endpoint, err, connected));
    });
  });
}

/** Wait until `req` can take more data, or is gone. */
function writable(req: http.ClientRequest): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      req.off('drain', done);
      req.off('close', done);
      resolve();
    };
    req.on('drain', done);
    req.on('close', done);
  });
}

/**
 * Pull chunks from `body` and write them, waiting for `drain` whenever the
 * socket refuses more. Stops quietly if the request is destroyed (the daemon
 * answered and closed, or abort()); rejects only if the source throws.
 */
async function pumpBody(req: http.ClientRequest, body: AsyncIterable<Uint8Array>): Promise<void> {
  const it = body[Symbol.asyncIterator]();
  try {
    for (;;) {
      if (req.destroyed) return;
      const step = await it.next();
      if (step.done) break;
      if (req.destroyed) return;
      if (step.value.byteLength === 0) continue;
      if (!req.write(step.value)) await writable(req);
    }
    if (!req.destroyed) req.end();
  } finally {
    // Tell the producer we will not pull more (no-op when it finished).
    if (req.destroyed) await it.return?.().catch(() => {});
  }
}

/**
 * Read a whole (small) response body, at most `limit` bytes, and return it as
 * text. Transport failures become DOCKER errors.
 */
export async function readText(
  endpoint: DockerEndpoint,
  response: http.IncomingMessage,
  limit = 16 << 20,
): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of response as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) {
        response.destroy();
        throw new PatcherError(ErrorCode.Docker, `docker: response larger than ${limit} bytes`);
      }
      chunks.push(chunk);
    }
  } catch (err) {
    throw transportError(endpoint, err, true);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The daemon's error text from a non-2xx body: JSON `{message}` or plain text, on one line. */
export function errorMessage(body: string, status: number): string {
  let message = body;
  try {
    const parsed = JSON.parse(body) as { message?: unknown; cause?: unknown };
    if (typeof parsed?.message === 'string') message = parsed.message;
  } catch {
    // plain text body
  }
  message = oneLine(message);
  return message ? `${message} (HTTP ${status})` : `HTTP ${status}`;
}
