/**
 * Where the Docker daemon listens: DOCKER_HOST parsing.
 *
 * Accepted forms (as the docker CLI spells them):
 *   unix:///var/run/docker.sock   a unix socket (the default)
 *   /var/run/docker.sock          a bare absolute path, taken as a unix socket
 *   tcp://host:port               plain HTTP over TCP (port defaults to 2375)
 *   http://host:port              same as tcp://
 * Not supported: TLS (tcp:// with DOCKER_TLS_VERIFY, https://), ssh://, npipe://.
 */
import { ErrorCode, PatcherError } from '../errors.js';

export const DEFAULT_DOCKER_HOST = 'unix:///var/run/docker.sock';

/** A parsed daemon address, ready for http.request options. */
export type DockerEndpoint =
  | { kind: 'unix'; url: string; socketPath: string }
  | { kind: 'tcp'; url: string; hostname: string; port: number };

function unsupported(host: string, why: string): PatcherError {
  return new PatcherError(ErrorCode.Docker, `docker: unsupported DOCKER_HOST ${host} (${why})`);
}

/**
 * Parse a DOCKER_HOST value. An empty or undefined value means the default
 * unix socket. Throws PatcherError DOCKER for forms we do not speak.
 */
export function parseDockerHost(host: string | undefined): DockerEndpoint {
  const value = (host ?? '').trim() || DEFAULT_DOCKER_HOST;
  if (value.startsWith('/')) return { kind: 'unix', url: `unix://${value}`, socketPath: value };
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(value)?.[1]?.toLowerCase();
  if (scheme === 'unix') {
    const socketPath = value.slice('unix://'.length);
    if (!socketPath.startsWith('/')) throw unsupported(value, 'socket path must be absolute');
    return { kind: 'unix', url: value, socketPath };
  }
  if (scheme === 'tcp' || scheme === 'http') {
    let parsed: URL;
    try {
      parsed = new URL(`http://${value.slice(scheme.length + 3)}`);
    } catch {
      throw unsupported(value, 'cannot parse host:port');
    }
    if (parsed.pathname !== '/' && parsed.pathname !== '') {
      throw unsupported(value, 'a path prefix is not supported');
    }
    const hostname = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
    const port = parsed.port === '' ? 2375 : Number(parsed.port);
    return { kind: 'tcp', url: `tcp://${parsed.host}`, hostname, port };
  }
  if (scheme === 'https') throw unsupported(value, 'TLS is not supported');
  throw unsupported(value, scheme ? `scheme ${scheme}:// is not supported` : 'expected unix:// or tcp://');
}
