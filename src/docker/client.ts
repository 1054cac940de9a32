/**
 * A small Docker Engine API client: just what docker-patcher needs to read an
 * image out of a daemon and load one back in (inspect, save, load, tag,
 * remove, import). No dependency beyond Node's `http`. Written for dockerd,
 * podman's Docker-compatible service and balena-engine; tested against
 * dockerd 20.10 (Debian's docker.io) and a fake server only.
 *
 * Versioning: the first call asks GET /version and then prefixes every path
 * with /vX.YY, X.YY = the daemon's ApiVersion capped at MAX_API_VERSION (and
 * raised to the daemon's MinAPIVersion if our cap is below it). DOCKER_API_VERSION
 * or the `apiVersion` option skips the negotiation.
 *
 * Memory: save and load stream (one chunk in flight each way); JSON answers
 * are read whole but capped at 16 MiB.
 *
 * Errors: PatcherError DOCKER (unreachable daemon, HTTP error, a failure
 * reported inside a 200 progress stream) and NOT_FOUND (HTTP 404 on an image).
 */
import type http from 'node:http';
import { ErrorCode, PatcherError } from '../errors.js';
import { parseDockerHost, type DockerEndpoint } from './host.js';
import { errorMessage, openExchange, readText, transportError, type Exchange } from './http.js';
import { jsonMessages, messageError, type JsonMessage } from './jsonstream.js';

/** Newest API version whose image endpoints we have read (Docker 27); newer daemons still serve it. */
export const MAX_API_VERSION = '1.47';
/** Oldest API we accept (Docker 1.12; the floor of every maintained daemon). */
export const MIN_API_VERSION = '1.24';

export interface DockerClientOptions {
  /** Daemon address (DOCKER_HOST syntax). Default: $DOCKER_HOST, else unix:///var/run/docker.sock. */
  host?: string;
  /** Use this API version instead of negotiating (e.g. '1.41'). Default: $DOCKER_API_VERSION, else negotiate. */
  apiVersion?: string;
  /** Give up connecting after this many ms. Default 10000. */
  connectTimeoutMs?: number;
  /** Give up on a small (non-streaming) call after this many ms without activity. Default 60000. */
  requestTimeoutMs?: number;
}

/** The fields of GET /images/{name}/json we rely on (the rest is kept as is). */
export interface ImageInspect {
  /** Image ID: `sha256:` + hex sha256 of the config JSON. */
  Id: string;
  /** `name:tag` references; [] when untagged (some daemons send null: normalised). */
  RepoTags: string[];
  RepoDigests: string[];
  /** Uncompressed layer digests (diff_ids), bottom first. */
  RootFS: { Type: string; Layers: string[] };
  /** Total size in bytes as the daemon reports it. */
  Size: number;
  Architecture?: string;
  Os?: string;
  [key: string]: unknown;
}

export interface LoadOptions {
  /** Ask the daemon not to send per-layer progress. Default true. */
  quiet?: boolean;
  /** Called for every progress message the daemon sends. */
  onMessage?: (message: JsonMessage) => void;
}

export interface LoadResult {
  /** What the daemon reported loading: `name:tag` for tagged images, `sha256:...` IDs for untagged ones. */
  loaded: string[];
}

/** One image of GET /images/json: its ID and the names it has. */
export interface ImageSummary {
  Id: string;
  RepoTags: string[];
  RepoDigests: string[];
}

export interface PullOptions {
  /** The X-Registry-Auth header's value (base64url JSON of username, password, serveraddress); the daemon does not read config.json. */
  registryAuth?: string;
  /** Called for every progress message the daemon sends. */
  onMessage?: (message: JsonMessage) => void;
  /**
   * Podman only (its libpod API version, e.g. '4.3.1'): pull through its
   * own API (`/vX/libpod/images/pull`) with `tlsVerify=false`. Its
   * Docker-compatible pull has no such switch and asks every registry not
   * listed insecure in registries.conf over https, loopback ones too
   * (dockerd allows http for 127.0.0.0/8 by itself).
   */
  podmanTlsVerifyOff?: string;
}

export interface RemoveResult {
  untagged: string[];
  deleted: string[];
}

function versionNumber(version: string): [number, number] {
  const match = /^(\d+)\.(\d+)$/.exec(version.trim());
  return match ? [Number(match[1]), Number(match[2])] : [0, 0];
}

function compareVersions(a: string, b: string): number {
  const [a1, a2] = versionNumber(a);
  const [b1, b2] = versionNumber(b);
  return a1 - b1 || a2 - b2;
}

/** Pick the API version to speak, given what the daemon reports. */
export function negotiateVersion(serverMax: string | undefined, serverMin?: string): string {
  if (!serverMax || versionNumber(serverMax)[0] === 0) return MIN_API_VERSION;
  let version = compareVersions(serverMax, MAX_API_VERSION) < 0 ? serverMax : MAX_API_VERSION;
  if (serverMin && versionNumber(serverMin)[0] > 0 && compareVersions(serverMin, version) > 0) version = serverMin;
  if (compareVersions(version, MIN_API_VERSION) < 0) {
    throw new PatcherError(ErrorCode.Docker, `docker: daemon API ${version} is too old (need ${MIN_API_VERSION} or newer)`);
  }
  return version;
}

/** Percent-encode an image reference for a path, keeping its `/` separators. */
function refPath(ref: string): string {
  if (ref.trim() === '') throw new PatcherError(ErrorCode.Usage, 'empty image reference');
  return ref.split('/').map(encodeURIComponent).join('/');
}

/** Split `repo[:tag]` (the tag is after the last ':' that follows the last '/'); tag defaults to latest. */
export function splitRepoTag(target: string): { repo: string; tag: string } {
  if (target.includes('@')) throw new PatcherError(ErrorCode.Usage, `cannot tag with a digest reference: ${target}`);
  const colon = target.lastIndexOf(':');
  if (colon > target.lastIndexOf('/')) return { repo: target.slice(0, colon), tag: target.slice(colon + 1) };
  return { repo: target, tag: 'latest' };
}

const HEX_ID = /^(?:sha256:)?([0-9a-f]{1,64})$/;

export class DockerClient {
  readonly endpoint: DockerEndpoint;
  readonly #connectTimeoutMs: number;
  readonly #requestTimeoutMs: number;
  #version: Promise<string> | undefined;
  #systemVersion: Promise<Record<string, unknown>> | undefined;

  constructor(options: DockerClientOptions = {}) {
    this.endpoint = parseDockerHost(options.host);
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 60_000;
    if (options.apiVersion) this.#version = Promise.resolve(options.apiVersion.replace(/^v/, ''));
  }

  /**
   * A client for `options.host`, else $DOCKER_HOST, else the default socket.
   * Honours $DOCKER_API_VERSION; refuses tcp:// with $DOCKER_TLS_VERIFY (no TLS yet).
   */
  static fromEnv(options: DockerClientOptions = {}): DockerClient {
    const host = options.host ?? process.env.DOCKER_HOST;
    if (process.env.DOCKER_TLS_VERIFY && parseDockerHost(host).kind === 'tcp') {
      throw new PatcherError(ErrorCode.Docker, `docker: unsupported DOCKER_HOST ${host} (DOCKER_TLS_VERIFY: TLS is not supported)`);
    }
    return new DockerClient({
      ...options,
      host,
      apiVersion: options.apiVersion ?? (process.env.DOCKER_API_VERSION || undefined),
    });
  }

  /** The daemon address, as a URL (unix:///... or tcp://...). */
  get host(): string {
    return this.endpoint.url;
  }

  /** GET /_ping: resolves when the daemon answers OK. */
  async ping(): Promise<void> {
    const res = await this.#request('GET', '/_ping', { versioned: false });
    await this.#expectOk(res, '');
  }

  /** The API version in use (negotiated on first call). */
  apiVersion(): Promise<string> {
    if (!this.#version) {
      this.#version = this.#negotiate();
      this.#version.catch(() => (this.#version = undefined)); // retry on the next call
    }
    return this.#version;
  }

  async #negotiate(): Promise<string> {
    // A body that is not JSON reads as {}: the ping header below then tells the version.
    const info = (await this.systemVersion()) as { ApiVersion?: string; MinAPIVersion?: string };
    let serverMax = info.ApiVersion ?? undefined;
    if (!serverMax) {
      const ping = await this.#request('GET', '/_ping', { versioned: false });
      await this.#expectOk(ping, '');
      serverMax = ping.headers['api-version'] as string | undefined;
    }
    return negotiateVersion(serverMax, info.MinAPIVersion);
  }

  /** GET /images/{ref}/json. `ref`: full ID, short ID, name[:tag] or name@digest. 404 -> NOT_FOUND. */
  async inspectImage(ref: string): Promise<ImageInspect> {
    const res = await this.#request('GET', `/images/${refPath(ref)}/json`);
    const info = JSON.parse(await this.#expectOk(res, ref)) as ImageInspect;
    info.RepoTags = info.RepoTags ?? [];
    info.RepoDigests = info.RepoDigests ?? [];
    info.RootFS = { Type: info.RootFS?.Type ?? 'layers', Layers: info.RootFS?.Layers ?? [] };
    return info;
  }

  /** GET /info: the daemon's system information, as JSON (storage driver, versions). */
  async info(): Promise<Record<string, unknown>> {
    const res = await this.#request('GET', '/info');
    return JSON.parse(await this.#expectOk(res, '')) as Record<string, unknown>;
  }

  /**
   * GET /version (unversioned): the daemon's version and platform (`Os`,
   * `Arch`, `Version`, `ApiVersion`, podman's `Components`, ...); {} for a
   * body that is not a JSON object. Asked once per client (the version
   * negotiation reads it too): podman takes seconds to answer it.
   */
  systemVersion(): Promise<Record<string, unknown>> {
    if (!this.#systemVersion) {
      this.#systemVersion = this.#fetchVersion();
      this.#systemVersion.catch(() => (this.#systemVersion = undefined)); // retry on the next call
    }
    return this.#systemVersion;
  }

  async #fetchVersion(): Promise<Record<string, unknown>> {
    const res = await this.#request('GET', '/version', { versioned: false });
    const body = await this.#expectOk(res, '');
    try {
      const value = JSON.parse(body) as unknown;
      return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
    } catch {
      return {};
    }
  }

  /** GET /images/json: the tagged and digest-named images (`docker images`), tags and digests normalised to arrays. */
  async listImages(): Promise<ImageSummary[]> {
    const res = await this.#request('GET', '/images/json');
    const list = JSON.parse(await this.#expectOk(res, '')) as Array<Partial<ImageSummary>> | null;
    return (list ?? []).map((image) => ({ Id: String(image.Id), RepoTags: image.RepoTags ?? [], RepoDigests: image.RepoDigests ?? [] }));
  }

  /**
   * POST /images/create?fromImage=NAME&tag=TAG: the daemon pulls `name:tag`
   * (or `name@digest`, digest given as the tag, as the docker CLI sends it).
   * The answer is a progress stream; an error inside it is a DOCKER error
   * here (the caller knows whether it was the registry's).
   */
  async pullImage(name: string, tag: string, options: PullOptions = {}): Promise<void> {
    let path: string;
    if (options.podmanTlsVerifyOff) {
      const reference = `${name}${tag.startsWith('sha256:') ? '@' : ':'}${tag}`;
      path = `/v${options.podmanTlsVerifyOff}/libpod/images/pull?${new URLSearchParams({ reference, tlsVerify: 'false', quiet: 'true' })}`;
    } else {
      path = `/v${await this.apiVersion()}/images/create?${new URLSearchParams({ fromImage: name, tag })}`;
    }
    const exchange = await openExchange(this.endpoint, {
      method: 'POST',
      path,
      headers: options.registryAuth ? { 'X-Registry-Auth': options.registryAuth } : {},
      connectTimeoutMs: this.#connectTimeoutMs,
      idleTimeoutMs: 0,
    });
    await this.#consumeProgress(exchange, 'pull failed', (message) => options.onMessage?.(message));
  }

  /** GET /images/json?all=1: the IDs of the images the daemon lists (what `docker images -a` shows). */
  async listImageIds(): Promise<string[]> {
    const res = await this.#request('GET', '/images/json?all=1');
    const list = JSON.parse(await this.#expectOk(res, '')) as Array<{ Id?: string }> | null;
    return (list ?? []).map((image) => String(image.Id));
  }

  /**
   * The full image ID (`sha256:<64 hex>`) for a full ID, a short ID (hex
   * prefix, with or without `sha256:`) or a name[:tag]. A hex ref that the
   * daemon resolves to an image whose ID does not start with it (a repository
   * that happens to be named like hex) is accepted too: the name wins, as in
   * the docker CLI.
   */
  async resolveImage(ref: string): Promise<string> {
    const hex = HEX_ID.exec(ref);
    const lookup = hex && ref.startsWith('sha256:') && hex[1].length < 64 ? hex[1] : ref;
    return (await this.inspectImage(lookup)).Id;
  }

  /**
   * GET /images/{ref}/get: the image as a `docker save` tar stream. Pull-based:
   * bytes are read from the socket only as fast as the consumer iterates.
   * Breaking out of the loop closes the connection.
   */
  async *saveImage(ref: string): AsyncGenerator<Uint8Array> {
    const res = await this.#request('GET', `/images/${refPath(ref)}/get`, { stream: true });
    if (res.statusCode !== 200) await this.#expectOk(res, ref);
    try {
      for await (const chunk of res as AsyncIterable<Buffer>) yield chunk;
    } catch (err) {
      throw transportError(this.endpoint, err, true);
    } finally {
      res.destroy();
    }
  }

  /**
   * POST /images/load with `tar` (a `docker save` archive) as the streamed
   * body. The daemon answers 200 and reports failure inside its JSON stream:
   * that becomes a DOCKER error. An error thrown by `tar` itself aborts the
   * upload (the daemon then discards it) and is rethrown unchanged.
   */
  async loadImage(tar: AsyncIterable<Uint8Array>, options: LoadOptions = {}): Promise<LoadResult> {
    const quiet = options.quiet ?? true;
    const exchange = await this.#send('POST', `/images/load?quiet=${quiet ? 1 : 0}`, tar, {
      'Content-Type': 'application/x-tar',
    });
    const loaded: string[] = [];
    await this.#consumeProgress(exchange, 'image load failed', (message) => {
      options.onMessage?.(message);
      const text = message.stream ?? '';
      const match = /^Loaded image(?: ID)?: (.+)$/m.exec(text);
      // dockerd sends one line per reference; podman one line for all of
      // them, comma-joined ("Loaded image: localhost/a:1,localhost/a:2").
      // A reference never contains a comma.
      if (match) loaded.push(...match[1].split(',').map((ref) => ref.trim()).filter(Boolean));
    });
    if (loaded.length === 0) {
      throw new PatcherError(ErrorCode.Docker, 'docker: image load failed: the daemon reported no image loaded');
    }
    return { loaded };
  }

  /**
   * POST /images/create?fromSrc=- : make a one-layer image from a rootfs tar
   * (what `docker import` does). Returns the new image ID.
   */
  async importImage(tar: AsyncIterable<Uint8Array>, target: string, changes: string[] = []): Promise<string> {
    const { repo, tag } = splitRepoTag(target);
    const query = new URLSearchParams({ fromSrc: '-', repo, tag });
    for (const change of changes) query.append('changes', change);
    const exchange = await this.#send('POST', `/images/create?${query}`, tar, { 'Content-Type': 'application/x-tar' });
    let id: string | undefined;
    await this.#consumeProgress(exchange, 'image import failed', (message) => {
      if (message.status && /^sha256:[0-9a-f]{64}$/.test(message.status.trim())) id = message.status.trim();
    });
    return id ?? (await this.resolveImage(`${repo}:${tag}`));
  }

  /** POST /images/{ref}/tag: give `ref` the reference `repo[:tag]` (tag defaults to latest). */
  async tagImage(ref: string, target: string): Promise<void> {
    const { repo, tag } = splitRepoTag(target);
    const query = new URLSearchParams({ repo, tag });
    const res = await this.#request('POST', `/images/${refPath(ref)}/tag?${query}`);
    await this.#expectOk(res, ref);
  }

  /** DELETE /images/{ref}. `force` removes it even if tagged several times or used by containers. */
  async removeImage(ref: string, options: { force?: boolean; prune?: boolean } = {}): Promise<RemoveResult> {
    const query = new URLSearchParams({
      force: options.force ? '1' : '0',
      noprune: options.prune === false ? '1' : '0',
    });
    const res = await this.#request('DELETE', `/images/${refPath(ref)}?${query}`);
    const body = await this.#expectOk(res, ref);
    const result: RemoveResult = { untagged: [], deleted: [] };
    for (const item of (JSON.parse(body || '[]') as Array<{ Untagged?: string; Deleted?: string }>) ?? []) {
      if (item.Untagged) result.untagged.push(item.Untagged);
      if (item.Deleted) result.deleted.push(item.Deleted);
    }
    return result;
  }

  /** One request without a body; resolves at the response headers. */
  async #request(
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    { versioned = true, stream = false }: { versioned?: boolean; stream?: boolean } = {},
  ): Promise<http.IncomingMessage> {
    const prefix = versioned ? `/v${await this.apiVersion()}` : '';
    const exchange = await openExchange(this.endpoint, {
      method,
      path: prefix + path,
      connectTimeoutMs: this.#connectTimeoutMs,
      idleTimeoutMs: stream ? 0 : this.#requestTimeoutMs,
    });
    return exchange.response;
  }

  /** One request with a streamed body (no idle timeout: the daemon may work for minutes). */
  async #send(
    method: 'POST',
    path: string,
    body: AsyncIterable<Uint8Array>,
    headers: Record<string, string>,
  ): Promise<Exchange> {
    const prefix = `/v${await this.apiVersion()}`;
    return openExchange(this.endpoint, {
      method,
      path: prefix + path,
      headers,
      body,
      connectTimeoutMs: this.#connectTimeoutMs,
      idleTimeoutMs: 0,
    });
  }

  /**
   * Read a small body; throw ours unless the status is 2xx. A 404 on an image
   * (`ref` non-empty) is NOT_FOUND.
   */
  async #expectOk(res: http.IncomingMessage, ref: string): Promise<string> {
    const status = res.statusCode ?? 0;
    const body = await readText(this.endpoint, res);
    if (status >= 200 && status < 300) return body;
    if (status === 404 && ref) throw new PatcherError(ErrorCode.NotFound, `image not found: ${ref}`);
    throw new PatcherError(ErrorCode.Docker, `docker: ${errorMessage(body, status)}`);
  }

  /**
   * Drain a progress stream, handing each message to `onMessage`; throw a
   * DOCKER error for an HTTP error or an error message inside a 200 stream.
   * If our own body source failed, its error wins.
   */
  async #consumeProgress(exchange: Exchange, what: string, onMessage: (m: JsonMessage) => void): Promise<void> {
    const res = exchange.response;
    try {
      const status = res.statusCode ?? 0;
      if (status < 200 || status >= 300) {
        const body = await readText(this.endpoint, res);
        throw new PatcherError(ErrorCode.Docker, `docker: ${what}: ${errorMessage(body, status)}`);
      }
      const messages = jsonMessages(res);
      for (;;) {
        let step: IteratorResult<JsonMessage>;
        try {
          step = await messages.next();
        } catch (err) {
          throw transportError(this.endpoint, err, true);
        }
        if (step.done) break;
        const error = messageError(step.value);
        if (error) throw new PatcherError(ErrorCode.Docker, `docker: ${what}: ${error}`);
        onMessage(step.value);
      }
      await exchange.bodyDone;
    } catch (err) {
      exchange.abort();
      await exchange.bodyDone; // rethrows the body source's own error, if that is what failed
      throw err;
    }
  }
}
