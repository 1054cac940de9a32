/**
 * One HTTP(S) exchange with a registry over Node's own http/https: a request
 * with an optional body (bytes, or a stream of known length sent with
 * backpressure), the response head, and its body read whole (bounded) or
 * left to the caller as a stream. Connection and TLS failures become one
 * REGISTRY line naming the registry.
 *
 * Memory: a bounded body read holds at most `limit` bytes; streamed bodies
 * hold one chunk.
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { ErrorCode, PatcherError } from '../errors.js';

export interface TlsSettings {
  /** Extra CA certificates (PEM), added to the system's. */
  ca?: string[];
  /** Skip certificate checks (--insecure-registry). */
  insecure?: boolean;
}

export interface SendOptions {
  method: string;
  url: URL;
  headers?: Record<string, string>;
  body?: Uint8Array | { stream: AsyncIterable<Uint8Array>; length: number };
  tls?: TlsSettings;
  /** No byte for this long fails the exchange (ms; default 60 s). */
  idleTimeout?: number;
}

export type Response = http.IncomingMessage;

/** A connection-level failure (refused, reset, TLS): not an HTTP answer. */
export class TransportError extends PatcherError {
  readonly errno: string;
  constructor(message: string, errno: string, cause: unknown) {
    super(ErrorCode.Registry, message, { cause });
    this.errno = errno;
  }
}

const CERT_ERRORS = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ALTNAME|HOSTNAME/;

/** True when the peer does not speak TLS at all (a plain-http server answering a ClientHello). */
export function notTls(err: unknown): boolean {
  if (!(err instanceof TransportError)) return false;
  return !CERT_ERRORS.test(err.errno) && /EPROTO|ERR_SSL|ECONNRESET|WRONG_VERSION|PACKET_LENGTH/.test(err.errno);
}

function describe(err: NodeJS.ErrnoException, url: URL): string {
  const where = `registry ${url.host}`;
  const code = err.code ?? '';
  if (code === 'ECONNREFUSED') return `cannot reach ${where}: connection refused (is it running?)`;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `cannot reach ${where}: unknown host`;
  if (code === 'ETIMEDOUT' || code === 'IDLE_TIMEOUT') return `${where} did not answer in time`;
  if (CERT_ERRORS.test(code)) return `${where}: TLS certificate not trusted (${err.message.split('\n')[0]}); give its CA with --ca-cert`;
  return `${where}: ${err.message.split('\n')[0]}`;
}

/** Send the request; resolves with the response head (the body not read yet). */
export function send(opts: SendOptions): Promise<Response> {
  const { url } = opts;
  const secure = url.protocol === 'https:';
  const headers: Record<string, string | number> = { 'User-Agent': 'docker-patcher', ...opts.headers };
  const body = opts.body;
  if (body instanceof Uint8Array) headers['Content-Length'] = body.length;
  else if (body) headers['Content-Length'] = body.length;
  else if (opts.method === 'PUT' || opts.method === 'POST' || opts.method === 'PATCH') headers['Content-Length'] = 0;
  const common = { method: opts.method, hostname: url.hostname.replace(/^\[|\]$/g, ''), port: url.port || (secure ? 443 : 80), path: `${url.pathname}${url.search}`, headers };
  return new Promise<Response>((resolve, reject) => {
    const fail = (err: NodeJS.ErrnoException): void => reject(new TransportError(describe(err, url), err.code ?? 'EUNKNOWN', err));
    const req = secure
      ? https.request({ ...common, agent: false, servername: net.isIP(common.hostname) ? undefined : common.hostname, ca: opts.tls?.ca ? [...tlsRootCas(), ...opts.tls.ca] : undefined, rejectUnauthorized: !opts.tls?.insecure })
      : http.request({ ...common, agent: false });
    req.setTimeout(opts.idleTimeout ?? 60_000, () => req.destroy(Object.assign(new Error('timeout'), { code: 'IDLE_TIMEOUT' })));
    req.on('error', fail);
    req.on('response', (res) => {
      res.on('error', () => undefined); // readers see errors through their own iteration
      resolve(res);
    });
    if (!body) {
      req.end();
    } else if (body instanceof Uint8Array) {
      req.end(body);
    } else {
      pump(req, body.stream).then(
        () => req.end(),
        (err: unknown) => {
          req.destroy();
          reject(err);
        },
      );
    }
  });
}

/** Node's CA list: --ca-cert adds to it, never replaces it. */
const tlsRootCas = (): readonly string[] => tls.rootCertificates;

async function pump(req: http.ClientRequest, stream: AsyncIterable<Uint8Array>): Promise<void> {
  for await (const chunk of stream) {
    if (req.destroyed) return;
    if (!req.write(chunk)) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          req.off('drain', done);
          req.off('close', done);
          resolve();
        };
        req.on('drain', done);
        req.on('close', done);
      });
    }
  }
}

/** Read the whole body, refusing more than `limit` bytes. */
export async function readBody(res: Response, limit: number, what: string): Promise<Buffer> {
  const declared = Number(res.headers['content-length'] ?? -1);
  if (declared > limit) {
    res.destroy();
    throw new PatcherError(ErrorCode.Registry, `${what}: ${declared} bytes, more than the ${limit} accepted`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of res as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) {
        res.destroy();
        throw new PatcherError(ErrorCode.Registry, `${what}: more than the ${limit} bytes accepted`);
      }
      chunks.push(chunk);
    }
  } catch (err) {
    if (err instanceof PatcherError) throw err;
    throw new PatcherError(ErrorCode.Registry, `${what}: connection lost (${(err as Error).message})`, { cause: err });
  }
  return Buffer.concat(chunks);
}

/** Drop the rest of a body we do not need (so the socket closes cleanly). */
export function discard(res: Response): void {
  res.resume();
}
