/**
 * A small OCI distribution client for one registry: ping /v2/, manifests
 * (GET/HEAD/PUT, OCI and Docker media types), blobs (HEAD, GET as a stream
 * whose sha256 is checked as it passes, upload monolithic or chunked),
 * referrers and tags. Auth: anonymous, basic, and the bearer token flow
 * (a `WWW-Authenticate: Bearer realm,service,scope` challenge, a token from
 * the realm, the request again). Scheme: https with the system CAs and
 * --ca-cert; plain http only for loopback registries (that answer over
 * http) and hosts named by --insecure-registry (whose certificates are then
 * not checked either, as Docker does).
 *
 * Errors: REGISTRY for transport, auth and protocol failures, NOT_FOUND
 * for an unknown repository, manifest or blob, DIGEST_MISMATCH for bytes
 * that do not hash to the digest they were asked for. One line each.
 *
 * Memory: manifests up to MAX_MANIFEST_SIZE are read whole; blobs stream.
 */
import { createHash } from 'node:crypto';
import { ErrorCode, PatcherError } from '../errors.js';
import { basicHeader, credentialsFromConfig, parseChallenge, repositoryScope, type Credentials } from './auth.js';
import { apiHost, DIGEST, isLoopback, hostName } from './reference.js';
import { discard, notTls, readBody, send, type Response, type SendOptions, type TlsSettings } from './transport.js';
import { uploadBlob, type UploadOptions } from './upload.js';

export const MAX_MANIFEST_SIZE = 4 * 1024 * 1024;

export const MediaType = {
  OciManifest: 'application/vnd.oci.image.manifest.v1+json',
  OciIndex: 'application/vnd.oci.image.index.v1+json',
  DockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  DockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  OciEmpty: 'application/vnd.oci.empty.v1+json',
} as const;

const MANIFEST_ACCEPT = [MediaType.OciManifest, MediaType.OciIndex, MediaType.DockerManifest, MediaType.DockerManifestList].join(', ');

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

export interface Manifest {
  mediaType: string;
  digest: string;
  bytes: Buffer;
}

export interface RegistryOptions {
  /** Given credentials (--username/--password-stdin); else config.json's `auths`. */
  credentials?: Credentials;
  /** Read config.json for credentials when none are given (default true). */
  useDockerConfig?: boolean;
  /** PEM CA certificates added to the system's (--ca-cert). */
  ca?: string[];
  /** Hosts (host or host:port) where http and unchecked TLS are allowed (--insecure-registry). */
  insecureRegistries?: string[];
}

export const sha256Of = (bytes: Uint8Array): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

/** A client for one registry host; tokens are kept per scope for the client's life. */
export class RegistryClient {
  readonly registry: string;
  readonly #host: string;
  readonly #tls: TlsSettings;
  readonly #insecure: boolean;
  readonly #credentials: Credentials | undefined;
  #scheme: 'https:' | 'http:' | undefined;
  readonly #tokens = new Map<string, string>();
  #basic = false;

  constructor(registry: string, options: RegistryOptions = {}) {
    this.registry = registry;
    this.#host = apiHost(registry);
    const insecureList = options.insecureRegistries ?? [];
    this.#insecure = insecureList.includes(registry) || insecureList.includes(hostName(registry));
    this.#tls = { ca: options.ca, insecure: this.#insecure };
    this.#credentials = options.credentials ?? (options.useDockerConfig === false ? undefined : credentialsFromConfig(registry));
  }

  /** The credentials this client logs in with, if any (given, or from config.json): `update` hands them to the daemon for a pull. */
  get credentials(): Credentials | undefined {
    return this.#credentials;
  }

  /** True once the client talks to the registry without a checked certificate (plain http, or an --insecure-registry host). */
  get unverifiedTransport(): boolean {
    return this.#scheme === 'http:' || this.#insecure;
  }

  /** `GET /v2/` (settles the scheme); resolves when the registry answers as one. */
  async ping(): Promise<void> {
    const res = await this.#request({ method: 'GET', path: '/v2/', scope: undefined });
    discard(res);
    if (res.statusCode !== 200) throw this.#httpError(res, 'ping', undefined);
  }

  /** The manifest `reference` (tag or digest) names; undefined when there is none. Checked against a digest reference. */
  async getManifest(repository: string, reference: string): Promise<Manifest | undefined> {
    const res = await this.#request({ method: 'GET', path: `/v2/${repository}/manifests/${reference}`, scope: [repository, 'pull'], headers: { Accept: MANIFEST_ACCEPT } });
    if (res.statusCode === 404) return notFound(res, repository);
    if (res.statusCode !== 200) throw this.#httpError(res, `manifest ${repository}:${reference}`, repository);
    const bytes = await readBody(res, MAX_MANIFEST_SIZE, `manifest ${repository}@${reference}`);
    const digest = sha256Of(bytes);
    if (DIGEST.test(reference) && digest !== reference) {
      throw new PatcherError(ErrorCode.DigestMismatch, `manifest ${repository}@${reference} from ${this.registry} hashes to ${digest}`);
    }
    const mediaType = String(res.headers['content-type'] ?? '').split(';')[0]!.trim() || mediaTypeOf(bytes);
    return { mediaType, digest, bytes };
  }

  /** HEAD the manifest: its descriptor, or undefined when the registry has none. */
  async headManifest(repository: string, reference: string): Promise<Descriptor | undefined> {
    const res = await this.#request({ method: 'HEAD', path: `/v2/${repository}/manifests/${reference}`, scope: [repository, 'pull'], headers: { Accept: MANIFEST_ACCEPT } });
    discard(res);
    if (res.statusCode === 404) return notFound(res, repository);
    if (res.statusCode !== 200) throw this.#httpError(res, `manifest ${repository}:${reference}`, repository);
    const digest = String(res.headers['docker-content-digest'] ?? '');
    if (!DIGEST.test(digest)) {
      // Without the header, GET it and hash it ourselves.
      const manifest = await this.getManifest(repository, reference);
      return manifest && { mediaType: manifest.mediaType, digest: manifest.digest, size: manifest.bytes.length };
    }
    return { mediaType: String(res.headers['content-type'] ?? '').split(';')[0]!.trim(), digest, size: Number(res.headers['content-length'] ?? 0) };
  }

  /** PUT a manifest under `reference` (a tag, or its own digest); returns its digest and whether the registry indexed its subject. */
  async putManifest(repository: string, reference: string, mediaType: string, bytes: Uint8Array): Promise<{ digest: string; subjectIndexed: boolean }> {
    const res = await this.#request({ method: 'PUT', path: `/v2/${repository}/manifests/${reference}`, scope: [repository, 'pull', 'push'], headers: { 'Content-Type': mediaType }, body: bytes });
    discard(res);
    if (res.statusCode !== 201) throw this.#httpError(res, `storing manifest ${repository}:${reference}`, repository);
    return { digest: sha256Of(bytes), subjectIndexed: res.headers['oci-subject'] !== undefined };
  }

  /** True when the repository holds blob `digest`. */
  async hasBlob(repository: string, digest: string): Promise<boolean> {
    const res = await this.#request({ method: 'HEAD', path: `/v2/${repository}/blobs/${digest}`, scope: [repository, 'pull'] });
    discard(res);
    if (res.statusCode === 200) return true;
    if (res.statusCode === 404) return false;
    throw this.#httpError(res, `blob ${digest}`, repository);
  }

  /**
   * Blob `digest` (of `size` bytes) as a stream. The bytes are hashed as they
   * pass and the last chunk is held back until the digest checks out: a
   * consumer never sees the end of a blob that does not match.
   */
  async *blob(repository: string, digest: string, size: number): AsyncGenerator<Uint8Array> {
    const res = await this.#request({ method: 'GET', path: `/v2/${repository}/blobs/${digest}`, scope: [repository, 'pull'], follow: true });
    if (res.statusCode === 404) return notFound(res, repository, `blob ${digest}`);
    if (res.statusCode !== 200) throw this.#httpError(res, `blob ${digest}`, repository);
    yield* verified(res, digest, size, `blob ${repository}@${digest} from ${this.registry}`);
  }

  /** Upload a blob unless the repository has it; returns whether bytes were sent. */
  async pushBlob(repository: string, digest: string, size: number, open: () => AsyncIterable<Uint8Array>, options: UploadOptions = {}): Promise<boolean> {
    if (await this.hasBlob(repository, digest)) return false;
    await uploadBlob(this.#uploadTransport(repository), digest, size, open, options);
    return true;
  }

  /** The referrers of `digest` via the referrers API; undefined where the registry has no such API. */
  async referrers(repository: string, digest: string): Promise<Descriptor[] | undefined> {
    const res = await this.#request({ method: 'GET', path: `/v2/${repository}/referrers/${digest}`, scope: [repository, 'pull'], headers: { Accept: MediaType.OciIndex } });
    const type = String(res.headers['content-type'] ?? '');
    if (res.statusCode !== 200 || !type.startsWith(MediaType.OciIndex)) {
      discard(res);
      if (res.statusCode === 200 || res.statusCode === 404 || res.statusCode === 405 || res.statusCode === 400) return undefined;
      throw this.#httpError(res, `referrers of ${digest}`, repository);
    }
    const bytes = await readBody(res, MAX_MANIFEST_SIZE, `referrers of ${digest}`);
    return parseIndex(bytes, `referrers of ${digest}`).manifests;
  }

  #uploadTransport(repository: string) {
    return {
      start: async () => {
        const res = await this.#request({ method: 'POST', path: `/v2/${repository}/blobs/uploads/`, scope: [repository, 'pull', 'push'] });
        discard(res);
        if (res.statusCode !== 202) throw this.#httpError(res, 'starting a blob upload', repository);
        return this.#location(res);
      },
      send: async (url: URL, method: 'PATCH' | 'PUT', headers: Record<string, string>, body?: SendOptions['body']) => {
        const res = await this.#request({ method, url, scope: [repository, 'pull', 'push'], headers, body });
        discard(res);
        const ok = method === 'PUT' ? res.statusCode === 201 : res.statusCode === 202;
        if (!ok) throw this.#httpError(res, 'uploading a blob', repository);
        return method === 'PATCH' ? this.#location(res) : url;
      },
    };
  }

  #location(res: Response): URL {
    const location = res.headers.location;
    if (!location) throw new PatcherError(ErrorCode.Registry, `registry ${this.registry} started an upload without a Location`);
    return new URL(location, this.#base());
  }

  #base(): string {
    return `${this.#scheme ?? 'https:'}//${this.#host}`;
  }

  /**
   * Decide https or http once. Loopback: ask /v2/ over http first (no
   * credentials go with it); a TLS server answers that with 400 or drops
   * it, and then it is https. (A TLS handshake that fails costs a device
   * about 9 MB of peak RSS, so the common plain loopback registry skips it.)
   * Elsewhere https first, http only for --insecure-registry hosts whose
   * peer does not speak TLS.
   */
  async #settleScheme(): Promise<void> {
    if (this.#scheme) return;
    if (isLoopback(this.registry) && (await this.#answersHttp())) {
      this.#scheme = 'http:';
      return;
    }
    const httpAllowed = this.#insecure || isLoopback(this.registry);
    try {
      const res = await send({ method: 'GET', url: new URL(`https://${this.#host}/v2/`), tls: this.#tls });
      discard(res);
      this.#scheme = 'https:';
    } catch (err) {
      if (!httpAllowed || !notTls(err)) throw err;
      this.#scheme = 'http:';
    }
  }

  /** True when GET /v2/ over plain http gets a registry's answer (200 or 401); a refused connection is the registry being down. */
  async #answersHttp(): Promise<boolean> {
    let res: Response;
    try {
      res = await send({ method: 'GET', url: new URL(`http://${this.#host}/v2/`), idleTimeout: 5_000 });
    } catch (err) {
      if (err instanceof PatcherError && /connection refused/.test(err.message)) throw err;
      return false;
    }
    discard(res);
    return res.statusCode === 200 || res.statusCode === 401;
  }

  async #request(req: {
    method: string;
    path?: string;
    url?: URL;
    scope: [string, ...string[]] | undefined;
    headers?: Record<string, string>;
    body?: SendOptions['body'];
    follow?: boolean;
  }): Promise<Response> {
    await this.#settleScheme();
    const url = req.url ?? new URL(`${this.#base()}${req.path!}`);
    const scope = req.scope ? repositoryScope(req.scope[0], req.scope.slice(1)) : '';
    const attempt = async (auth: string | undefined): Promise<Response> => {
      const headers = { ...req.headers, ...(auth ? { Authorization: auth } : {}) };
      let res = await send({ method: req.method, url, headers, body: req.body, tls: this.#tls });
      for (let hops = 0; req.follow && hops < 5 && res.statusCode && [301, 302, 303, 307, 308].includes(res.statusCode) && res.headers.location; hops++) {
        discard(res);
        const next = new URL(res.headers.location, url);
        // Credentials go only to the registry itself, never to a storage redirect.
        const keep = next.host === url.host ? headers : req.headers;
        res = await send({ method: req.method, url: next, headers: keep, tls: this.#tls });
      }
      return res;
    };
    let res = await attempt(this.#authFor(scope));
    if (res.statusCode !== 401) return res;
    const challenge = parseChallenge(res.headers['www-authenticate'] as string | undefined);
    discard(res);
    if (!challenge) throw new PatcherError(ErrorCode.Registry, `registry ${this.registry} refused access (401) without a usable WWW-Authenticate challenge`);
    if (req.body && !(req.body instanceof Uint8Array)) {
      // A streamed body cannot be sent twice: authenticate first (uploads always start with a POST that does).
      throw new PatcherError(ErrorCode.Registry, `registry ${this.registry} asked for credentials in the middle of an upload`);
    }
    if (challenge.scheme === 'basic') {
      if (!this.#credentials) throw new PatcherError(ErrorCode.Registry, `registry ${this.registry} needs a login: give --username and --password-stdin, or docker login`);
      if (this.#basic) throw this.#authFailed();
      this.#basic = true;
    } else {
      this.#tokens.set(scope, await this.#fetchToken(challenge.params, scope));
    }
    res = await attempt(this.#authFor(scope));
    if (res.statusCode === 401) {
      discard(res);
      throw this.#authFailed();
    }
    return res;
  }

  #authFor(scope: string): string | undefined {
    const token = this.#tokens.get(scope);
    if (token) return `Bearer ${token}`;
    if (this.#basic && this.#credentials) return basicHeader(this.#credentials);
    return undefined;
  }

  #authFailed(): PatcherError {
    const who = this.#credentials ? `as ${this.#credentials.username}` : 'anonymously';
    return new PatcherError(ErrorCode.Registry, `registry ${this.registry} refused access ${who} (wrong username or password, or no permission)`);
  }

  /** The bearer token flow: GET realm?service=…&scope=…, with basic credentials when we have them. */
  async #fetchToken(params: Record<string, string>, scope: string): Promise<string> {
    if (!params.realm) throw new PatcherError(ErrorCode.Registry, `registry ${this.registry} sent a Bearer challenge without a realm`);
    let realm: URL;
    try {
      realm = new URL(params.realm);
    } catch {
      throw new PatcherError(ErrorCode.Registry, `registry ${this.registry} sent an invalid token realm '${params.realm}'`);
    }
    if (realm.protocol !== 'https:' && !(realm.protocol === 'http:' && (isLoopback(realm.host) || this.#insecure))) {
      throw new PatcherError(ErrorCode.Registry, `registry ${this.registry} sent a token realm that is not https: ${realm.origin}`);
    }
    if (params.service) realm.searchParams.set('service', params.service);
    const wanted = scope || params.scope;
    if (wanted) realm.searchParams.set('scope', wanted);
    const headers: Record<string, string> = this.#credentials ? { Authorization: basicHeader(this.#credentials) } : {};
    const res = await send({ method: 'GET', url: realm, headers, tls: this.#tls });
    if (res.statusCode === 401 || res.statusCode === 403) {
      discard(res);
      throw this.#authFailed();
    }
    if (res.statusCode !== 200) {
      discard(res);
      throw new PatcherError(ErrorCode.Registry, `token server ${realm.host} answered HTTP ${res.statusCode}`);
    }
    const body = await readBody(res, 1024 * 1024, `token from ${realm.host}`);
    let token: unknown;
    try {
      const json = JSON.parse(body.toString('utf8')) as { token?: unknown; access_token?: unknown };
      token = json.token ?? json.access_token;
    } catch {
      token = undefined;
    }
    if (typeof token !== 'string' || !token) throw new PatcherError(ErrorCode.Registry, `token server ${realm.host} sent no token`);
    return token;
  }

  #httpError(res: Response, what: string, repository: string | undefined): PatcherError {
    const code = res.statusCode ?? 0;
    if (code === 403) return new PatcherError(ErrorCode.Registry, `registry ${this.registry} denied ${what}${repository ? ` in ${repository}` : ''} (403)`);
    if (code === 404 && repository) return new PatcherError(ErrorCode.NotFound, `registry ${this.registry}: ${what}: not found in ${repository}`);
    return new PatcherError(ErrorCode.Registry, `registry ${this.registry}: ${what} failed: HTTP ${code}`);
  }
}

/** A 404: NAME_UNKNOWN (no such repository) is an error; anything else means "not there". */
async function notFound(res: Response, repository: string, what?: string): Promise<undefined> {
  const body = await readBody(res, 64 * 1024, 'error body').catch(() => Buffer.alloc(0));
  if (/NAME_UNKNOWN/.test(body.toString('utf8'))) throw new PatcherError(ErrorCode.NotFound, `repository ${repository} not found`);
  if (what) throw new PatcherError(ErrorCode.NotFound, `${what} not found in ${repository}`);
  return undefined;
}

/** Stream `res`, hashing; the last chunk is yielded only after the digest and size check out. */
export async function* verified(res: AsyncIterable<Uint8Array> & { destroy?: () => void }, digest: string, size: number, what: string): AsyncGenerator<Uint8Array> {
  const hash = createHash('sha256');
  let seen = 0;
  let held: Uint8Array | undefined;
  try {
    for await (const chunk of res) {
      if (held) yield held;
      seen += chunk.length;
      if (seen > size) throw new PatcherError(ErrorCode.DigestMismatch, `${what}: more than the ${size} bytes its descriptor gives`);
      hash.update(chunk);
      held = chunk;
    }
  } catch (err) {
    if (err instanceof PatcherError) throw err;
    throw new PatcherError(ErrorCode.Registry, `${what}: connection lost after ${seen} bytes (${(err as Error).message})`, { cause: err });
  } finally {
    res.destroy?.();
  }
  if (seen !== size) throw new PatcherError(ErrorCode.DigestMismatch, `${what}: ${seen} bytes, its descriptor gives ${size}`);
  const actual = `sha256:${hash.digest('hex')}`;
  if (actual !== digest) throw new PatcherError(ErrorCode.DigestMismatch, `${what} hashes to ${actual}`);
  if (held) yield held;
}

function mediaTypeOf(bytes: Buffer): string {
  try {
    return String((JSON.parse(bytes.toString('utf8')) as { mediaType?: unknown }).mediaType ?? '');
  } catch {
    return '';
  }
}

/** Parse an image index (referrers answer, fallback tag); descriptors with the fields we need. */
export function parseIndex(bytes: Uint8Array, what: string): { manifests: Descriptor[] } {
  let json: { manifests?: unknown };
  try {
    json = JSON.parse(Buffer.from(bytes).toString('utf8')) as { manifests?: unknown };
  } catch {
    throw new PatcherError(ErrorCode.Registry, `${what} is not JSON`);
  }
  const list = Array.isArray(json.manifests) ? (json.manifests as Descriptor[]) : [];
  return { manifests: list.filter((d) => d && typeof d.digest === 'string' && DIGEST.test(d.digest) && typeof d.size === 'number') };
}
