/**
 * Image references as Docker writes them: `[REGISTRY/]REPO[:TAG][@sha256:HEX]`.
 * A first component with a dot, a colon or `localhost` names a registry;
 * otherwise the registry is Docker Hub (`registry-1.docker.io`, official
 * images under `library/`). Parsed with explicit checks, one-line USAGE
 * errors for anything else.
 */
import { ErrorCode, PatcherError } from '../errors.js';

export const DOCKER_HUB = 'docker.io';
/** Where Docker Hub's registry API answers. */
export const DOCKER_HUB_API = 'registry-1.docker.io';

export interface Reference {
  /** host[:port] as written (docker.io for Docker Hub). */
  registry: string;
  /** Repository path, lower case (`library/nginx` for `nginx` on Docker Hub). */
  repository: string;
  tag?: string;
  /** `sha256:<64 hex>` */
  digest?: string;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
export const DIGEST = /^sha256:[0-9a-f]{64}$/;
const HOST = /^(?:\[[0-9a-fA-F:]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::[0-9]{1,5})?$/;

const bad = (ref: string, why: string): PatcherError => new PatcherError(ErrorCode.Usage, `'${ref}' is not an image reference: ${why}`);

/** Parse `ref`; a tag defaults to `latest` only when `defaultTag` is set and no digest is given. */
export function parseReference(ref: string, opts: { defaultTag?: boolean } = {}): Reference {
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw bad(ref, 'a digest is sha256: and 64 lower-case hex digits');
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw bad(ref, `invalid tag '${tag}'`);
  }
  const parts = rest.split('/');
  let registry = DOCKER_HUB;
  if (parts.length > 1 && (/[.:]/.test(parts[0]!) || parts[0] === 'localhost' || parts[0]!.startsWith('['))) {
    registry = parts.shift()!;
    if (!HOST.test(registry)) throw bad(ref, `invalid registry host '${registry}'`);
  }
  if (registry === 'index.docker.io' || registry === DOCKER_HUB_API) registry = DOCKER_HUB;
  if (registry === DOCKER_HUB && parts.length === 1) parts.unshift('library');
  for (const part of parts) {
    if (!COMPONENT.test(part)) throw bad(ref, part === '' ? 'empty path component' : `invalid repository component '${part}' (lower case letters, digits, . _ -)`);
  }
  const repository = parts.join('/');
  if (repository.length > 255) throw bad(ref, 'repository name longer than 255 characters');
  if (!tag && !digest && opts.defaultTag) tag = 'latest';
  return { registry, repository, tag, digest };
}

/** `registry/repository`, with Docker Hub written out. */
export const repositoryName = (ref: Reference): string => `${ref.registry}/${ref.repository}`;

/** The reference as text, digest preferred over tag. */
export function formatReference(ref: Reference): string {
  if (ref.digest) return `${repositoryName(ref)}@${ref.digest}`;
  return `${repositoryName(ref)}${ref.tag ? `:${ref.tag}` : ''}`;
}

/** The host and port the API is spoken to (Docker Hub's API host for docker.io). */
export const apiHost = (registry: string): string => (registry === DOCKER_HUB ? DOCKER_HUB_API : registry);

/** The host without its port (for --insecure-registry, loopback checks). */
export function hostName(registry: string): string {
  if (registry.startsWith('[')) return registry.slice(1, registry.indexOf(']'));
  const colon = registry.lastIndexOf(':');
  return colon >= 0 ? registry.slice(0, colon) : registry;
}

/** 127.0.0.0/8, ::1 and localhost: the hosts where plain http is allowed without --insecure-registry. */
export function isLoopback(registry: string): boolean {
  const host = hostName(registry).toLowerCase();
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
