/**
 * Registry credentials and challenges: where a username/password comes from
 * (given, or `auths` in ~/.docker/config.json), how a `WWW-Authenticate`
 * header reads, and the scopes a bearer token is asked for. The token
 * request itself is the client's (it needs the transport).
 *
 * Not supported: credential helpers (`credsStore`, `credHelpers`); an
 * entry only there is treated as no credentials.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, PatcherError } from '../errors.js';
import { DOCKER_HUB } from './reference.js';

export interface Credentials {
  username: string;
  password: string;
}

export interface Challenge {
  scheme: 'basic' | 'bearer';
  /** Lower-cased parameter names: realm, service, scope, error. */
  params: Record<string, string>;
}

/** Parse one `WWW-Authenticate` value (`Bearer realm="…",service="…",scope="…"`). */
export function parseChallenge(header: string | undefined): Challenge | undefined {
  if (!header) return undefined;
  const match = /^\s*(\w+)\s*(.*)$/s.exec(header);
  if (!match) return undefined;
  const scheme = match[1]!.toLowerCase();
  if (scheme !== 'basic' && scheme !== 'bearer') return undefined;
  const params: Record<string, string> = {};
  const param = /([A-Za-z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?\s*/g;
  for (let m; (m = param.exec(match[2]!)); ) params[m[1]!.toLowerCase()] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3]!;
  return { scheme, params };
}

/** The keys a config.json may use for `registry` (Docker Hub has historical ones). */
function configKeys(registry: string): string[] {
  if (registry === DOCKER_HUB) return ['https://index.docker.io/v1/', 'index.docker.io', 'docker.io', 'registry-1.docker.io'];
  return [registry, `https://${registry}`, `http://${registry}`];
}

const normalize = (key: string): string => key.replace(/^https?:\/\//, '').replace(/\/.*$/, '');

/** The docker CLI's config directory: $DOCKER_CONFIG, else ~/.docker. */
export const dockerConfigDir = (): string => process.env.DOCKER_CONFIG ?? join(homedir(), '.docker');

/**
 * Credentials for `registry` from `auths` in config.json (base64 `user:pass`
 * in `auth`, or `username`/`password`). Undefined when there is no file or
 * no entry; a file that is not JSON or an `auth` that does not decode is a
 * one-line REGISTRY error naming the file.
 */
export function credentialsFromConfig(registry: string, configDir = dockerConfigDir()): Credentials | undefined {
  const path = join(configDir, 'config.json');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  let auths: Record<string, { auth?: string; username?: string; password?: string }>;
  try {
    auths = (JSON.parse(text) as { auths?: typeof auths }).auths ?? {};
  } catch {
    throw new PatcherError(ErrorCode.Registry, `cannot read credentials: ${path} is not JSON`);
  }
  const wanted = configKeys(registry);
  const key = Object.keys(auths).find((k) => wanted.includes(k) || wanted.includes(normalize(k)));
  const entry = key === undefined ? undefined : auths[key];
  if (!entry) return undefined;
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) throw new PatcherError(ErrorCode.Registry, `cannot read credentials: the auth of '${key}' in ${path} is not base64 of user:password`);
    return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  if (entry.username && entry.password) return { username: entry.username, password: entry.password };
  return undefined;
}

export const basicHeader = (c: Credentials): string => `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;

/** The token scope for `repository` and `actions` (pull, or pull,push). */
export const repositoryScope = (repository: string, actions: string[]): string => `repository:${repository}:${actions.join(',')}`;
