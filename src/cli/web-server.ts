/**
 * The static server behind `docker-patcher serve`: the browser demo
 * (web/dist, built by `npm run build:web`) over plain http from node:http.
 * Static files only: GET/HEAD, a fixed MIME table, 404 for anything else,
 * and no path can leave web/dist. Memory: one file at a time, streamed.
 */
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCode, PatcherError } from '../errors.js';

/** web/dist of this package: the same two levels up from src/cli and dist/cli. */
export const WEB_ROOT = fileURLToPath(new URL('../../web/dist/', import.meta.url));

const MIME_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
};

export interface ServeOptions {
  /** TCP port; 0 picks any free port. Default 8080. */
  port?: number;
  /** Interface to listen on. Default 127.0.0.1 (this machine only). */
  host?: string;
  /** Directory to serve. Default: this package's web/dist. */
  root?: string;
}

export interface RunningServer {
  /** Where the page is, e.g. http://127.0.0.1:8080/ */
  url: string;
  server: Server;
  close(): Promise<void>;
}

/** Start serving `root`; resolves once listening. Throws a PatcherError if root is missing or the port is taken. */
export async function startServer(options: ServeOptions = {}): Promise<RunningServer> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 8080;
  const root = await checkRoot(options.root ?? WEB_ROOT);
  const server = createServer((request, response) => {
    handle(root, request, response).catch(() => send(response, 500, 'internal error'));
  });
  await new Promise<void>((resolveListen, rejectListen) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      const why = err.code === 'EADDRINUSE' ? 'is in use (try --port 0)' : `cannot be opened: ${err.code ?? err.message}`;
      rejectListen(new PatcherError(ErrorCode.Io, `port ${port} on ${host} ${why}`));
    });
    server.listen(port, host, () => resolveListen());
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${shownHost}:${address.port}/`,
    server,
    close: () =>
      new Promise<void>((resolveClose) => {
        server.close(() => resolveClose());
        server.closeAllConnections();
      }),
  };
}

async function checkRoot(root: string): Promise<string> {
  try {
    const real = await realpath(root);
    if ((await stat(real)).isDirectory() && (await stat(resolve(real, 'index.html'))).isFile()) return real;
  } catch {
    // Reported below.
  }
  throw new PatcherError(ErrorCode.Io, `web page not built: ${root} has no index.html (run npm run build)`);
}

/**
 * Map a request path to a file under root, or null. Rejects encoded slashes,
 * NUL bytes, dot segments and anything that resolves (symlinks included)
 * outside root.
 */
export async function resolveRequestPath(root: string, urlPath: string): Promise<string | null> {
  const pathname = urlPath.split(/[?#]/, 1)[0];
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    return null;
  }
  if (!decoded.startsWith('/') || /[\0\\]/.test(decoded) || /%2f|%5c/i.test(pathname)) return null;
  const segments = decoded.split('/').filter((segment) => segment !== '');
  if (segments.some((segment) => segment === '.' || segment === '..')) return null;
  if (decoded.endsWith('/')) segments.push('index.html');
  const candidate = resolve(root, ...segments);
  if (!candidate.startsWith(root + sep)) return null;
  try {
    const real = await realpath(candidate);
    if (!real.startsWith(root + sep) || !(await stat(real)).isFile()) return null;
    return real;
  } catch {
    return null;
  }
}

async function handle(root: string, request: IncomingMessage, response: ServerResponse): Promise<void> {
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.setHeader('Allow', 'GET, HEAD');
    return send(response, 405, 'method not allowed');
  }
  const file = await resolveRequestPath(root, request.url ?? '/');
  const type = file ? MIME_TYPES[extname(file).toLowerCase()] : undefined;
  if (!file || !type) return send(response, 404, 'not found');
  const { size } = await stat(file);
  response.writeHead(200, {
    'Content-Type': type,
    'Content-Length': size,
    'Cache-Control': 'no-cache',
    'X-Content-Type-Options': 'nosniff',
  });
  if (request.method === 'HEAD') return void response.end();
  const stream = createReadStream(file);
  stream.on('error', () => response.destroy());
  stream.pipe(response);
}

function send(response: ServerResponse, status: number, text: string): void {
  if (response.headersSent) return void response.destroy();
  response.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' });
  response.end(`${status} ${text}\n`);
}
