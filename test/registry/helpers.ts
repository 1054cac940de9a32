/**
 * Registries for the tests: Debian's docker-registry (distribution 2.8)
 * started per test file on a free loopback port with its own state dir,
 * plain, with TLS + htpasswd basic auth, or with token auth trusting a
 * small in-test token issuer (RS256 JWTs with the signing certificate in
 * x5c; the registry trusts it through `rootcertbundle`). Certificates come
 * from openssl, bcrypt htpasswd lines from python3's crypt module. Each
 * missing tool fails the test, never skips it.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, createSign, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tar from 'tar-stream';
import { RegistryClient } from '../../src/registry/client.js';
import { testTempDir } from '../temp-dirs.js';

function need(tool: string, args: string[] = ['--version']): void {
  const r = spawnSync(tool, args, { stdio: 'ignore' });
  if (r.error) throw new Error(`${tool} is missing: the registry tests need it (.ci/run installs docker-registry, openssl and python3)`);
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

export interface TestRegistry {
  host: string;
  dir: string;
  /** What the registry wrote on stderr (errors only). */
  log(): string;
  stop(): Promise<void>;
}

export interface RegistryConfig {
  tls?: { cert: string; key: string };
  htpasswd?: string;
  token?: { realm: string; service: string; issuer: string; rootCertBundle: string };
}

/** Start docker-registry with `config`; resolves once it answers /v2/ (with any status). */
export async function startRegistry(config: RegistryConfig = {}): Promise<TestRegistry> {
  need('docker-registry', ['--version']);
  const dir = mkdtempSync(join(tmpdir(), 'dp-reg-'));
  const port = await freePort();
  const lines = [
    'version: 0.1',
    'log:',
    '  level: error',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${dir}/store`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: 127.0.0.1:${port}`,
  ];
  if (config.tls) lines.push('  tls:', `    certificate: ${config.tls.cert}`, `    key: ${config.tls.key}`);
  if (config.htpasswd) lines.push('auth:', '  htpasswd:', '    realm: dp-test', `    path: ${config.htpasswd}`);
  if (config.token) {
    const t = config.token;
    lines.push('auth:', '  token:', `    realm: ${t.realm}`, `    service: ${t.service}`, `    issuer: ${t.issuer}`, `    rootcertbundle: ${t.rootCertBundle}`);
  }
  writeFileSync(join(dir, 'config.yml'), `${lines.join('\n')}\n`);
  const child: ChildProcess = spawn('docker-registry', ['serve', join(dir, 'config.yml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  for (let i = 0; ; i++) {
    if (await answers(port)) break;
    if (child.exitCode !== null || i > 150) {
      await stop();
      throw new Error(`docker-registry did not start: ${log.trim().split('\n').slice(-3).join(' | ')}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { host: `127.0.0.1:${port}`, dir, log: () => log, stop };
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

/** A self-signed certificate for 127.0.0.1 (and its key), made with openssl in `dir`. */
export function makeCertificate(dir: string, name = 'server'): { cert: string; key: string } {
  need('openssl', ['version']);
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${name}`, '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'pipe' });
  return { cert, key };
}

/**
 * One htpasswd line with a bcrypt hash (what docker-registry's htpasswd auth
 * reads), at the lowest cost, since the registry checks it on every request:
 * python3's crypt module (Debian bookworm's 3.11 has it; 3.13 dropped it),
 * else apache2-utils' htpasswd -B.
 */
export function htpasswdLine(user: string, password: string): string {
  const script = 'import crypt,sys,warnings\nwarnings.simplefilter("ignore")\nprint(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))';
  const py = spawnSync('python3', ['-c', script, password], { encoding: 'utf8' });
  if (py.status === 0 && py.stdout.startsWith('$2')) return `${user}:${py.stdout.trim()}`;
  const ht = spawnSync('htpasswd', ['-nbB', '-C', '4', user, password], { encoding: 'utf8' });
  if (ht.status === 0 && ht.stdout.includes(':$2')) return ht.stdout.trim();
  throw new Error("no bcrypt maker: the registry tests need python3 with its crypt module, or apache2-utils' htpasswd");
}

const b64url = (data: Buffer | string): string => Buffer.from(data).toString('base64url');

export interface TokenIssuer {
  realm: string;
  service: string;
  issuer: string;
  /** Requests the issuer answered (scope asked for, user). */
  requests: Array<{ scope: string; user: string | undefined }>;
  stop(): Promise<void>;
}

/**
 * A token endpoint: GET /token?service=…&scope=… with basic auth `user`/`password`
 * answers {"token": JWT} granting the asked actions; a wrong password gets 401.
 */
export async function startTokenIssuer(cert: { cert: string; key: string }, user: string, password: string): Promise<TokenIssuer> {
  const service = 'dp-test-registry';
  const issuer = 'dp-test-issuer';
  const der = Buffer.from(readFileSync(cert.cert, 'utf8').replace(/-----[^-]+-----|\s/g, ''), 'base64');
  const key = readFileSync(cert.key, 'utf8');
  const requests: TokenIssuer['requests'] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    const auth = req.headers.authorization;
    const decoded = auth?.startsWith('Basic ') ? Buffer.from(auth.slice(6), 'base64').toString() : '';
    const colon = decoded.indexOf(':');
    const [u, p] = colon > 0 ? [decoded.slice(0, colon), decoded.slice(colon + 1)] : [undefined, undefined];
    const scope = url.searchParams.get('scope') ?? '';
    requests.push({ scope, user: u });
    if (u !== user || p !== password) {
      res.writeHead(401).end('{"details":"bad credentials"}');
      return;
    }
    const access = scope
      .split(' ')
      .filter(Boolean)
      .map((s) => {
        const [type, name, actions] = s.split(':');
        return { type, name, actions: (actions ?? '').split(',') };
      });
    const now = Math.floor(Date.now() / 1000);
    const header = { typ: 'JWT', alg: 'RS256', x5c: [der.toString('base64')] };
    const claims = { iss: issuer, sub: user, aud: service, exp: now + 300, nbf: now - 10, iat: now, jti: randomBytes(8).toString('hex'), access };
    const signing = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const signature = createSign('RSA-SHA256').update(signing).sign(key);
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ token: `${signing}.${b64url(signature)}` }));
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    realm: `http://127.0.0.1:${port}/token`,
    service,
    issuer,
    requests,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export const sha256 = (data: Uint8Array): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;

/** The entries of a tar in memory, by name. */
export async function untar(archive: Uint8Array): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const ex = tar.extract();
  const done = new Promise<void>((resolve, reject) => {
    ex.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        files.set(header.name, Buffer.concat(chunks));
        next();
      });
    });
    ex.on('finish', resolve);
    ex.on('error', reject);
  });
  ex.end(Buffer.from(archive));
  await done;
  return files;
}

/** Upload the image of a legacy `docker save` archive to `repository:tag` as an OCI manifest; returns the manifest digest. */
export async function pushImage(client: RegistryClient, repository: string, tag: string, archive: Uint8Array): Promise<string> {
  const files = await untar(archive);
  const [entry] = JSON.parse(files.get('manifest.json')!.toString()) as Array<{ Config: string; Layers: string[] }>;
  const one = (bytes: Buffer) => async function* (): AsyncGenerator<Uint8Array> {
    yield bytes;
  };
  const config = files.get(entry!.Config)!;
  await client.pushBlob(repository, sha256(config), config.length, one(config));
  const layers = [];
  for (const name of entry!.Layers) {
    const layer = files.get(name)!;
    await client.pushBlob(repository, sha256(layer), layer.length, one(layer));
    layers.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(layer), size: layer.length });
  }
  const manifest = Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length }, layers }),
  );
  return (await client.putManifest(repository, tag, 'application/vnd.oci.image.manifest.v1+json', manifest)).digest;
}

/** The files under a registry's store (to show a failed push changed nothing). */
export function storeListing(dir: string): string[] {
  const r = spawnSync('find', [join(dir, 'store'), '-type', 'f'], { encoding: 'utf8' });
  return r.stdout.split('\n').filter(Boolean).sort();
}

const BIN = join(import.meta.dirname, '../../bin/docker-patcher.js');

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Run the CLI (built dist/) with `input` on stdin and extra environment. */
export function run(args: string[], opts: { input?: string; env?: Record<string, string> } = {}): RunResult {
  const r = spawnSync(process.execPath, [BIN, ...args], { input: opts.input ?? '', env: { ...process.env, DOCKER_CONFIG: '/nonexistent-docker-config', ...opts.env }, timeout: 60_000, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** As run(), without blocking this process (a token issuer in the test must answer meanwhile). */
export function runAsync(args: string[], opts: { input?: string; env?: Record<string, string> } = {}): Promise<RunResult> {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, DOCKER_CONFIG: '/nonexistent-docker-config', ...opts.env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.end(opts.input ?? '');
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise((resolve) =>
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    }),
  );
}

/** A one-line error with the given exit status. */
export function expectOneLineError(r: RunResult, status: number, pattern: RegExp): void {
  if (r.status !== status || r.stderr.split('\n').filter(Boolean).length !== 1 || !pattern.test(r.stderr)) {
    throw new Error(`expected exit ${status} and one line matching ${pattern}, got exit ${r.status}: ${JSON.stringify(r.stderr)}`);
  }
}

export interface PatchPair {
  dir: string;
  oldTar: string;
  newTar: string;
  patch: string;
  /** The patch made the other way round (new to old). */
  backPatch: string;
  newArchive: Uint8Array;
  oldId: string;
  newId: string;
}

/** Two small images (the new one tagged `newTag`), their archives and the patches between them, in a temp dir. */
export async function makePatchPair(newTag: string): Promise<PatchPair> {
  const { buildDockerArchive, sharedLayerPair } = await import('../fixtures/images.js');
  const [oldSpec, newSpec] = sharedLayerPair();
  const dir = testTempDir('dp-regpair-');
  const oldArchive = await buildDockerArchive({ ...oldSpec, tags: ['dp-test/app:1'] });
  const newArchive = await buildDockerArchive({ ...newSpec, layers: [...newSpec.layers, [{ path: 'etc/big', data: randomBytes(200_000).toString('hex') }]], tags: [newTag] });
  const oldTar = join(dir, 'old.tar');
  const newTar = join(dir, 'new.tar');
  writeFileSync(oldTar, oldArchive);
  writeFileSync(newTar, newArchive);
  const patch = join(dir, 'app.patch');
  const backPatch = join(dir, 'back.patch');
  for (const [a, b, out] of [[oldTar, newTar, patch], [newTar, oldTar, backPatch]] as const) {
    const r = run(['create', '-q', a, b, out]);
    if (r.status !== 0) throw new Error(`create failed: ${r.stderr}`);
  }
  const idOf = async (archive: Uint8Array): Promise<string> => {
    const files = await untar(archive);
    const [entry] = JSON.parse(files.get('manifest.json')!.toString()) as Array<{ Config: string }>;
    return sha256(files.get(entry!.Config)!);
  };
  return { dir, oldTar, newTar, patch, backPatch, newArchive, oldId: await idOf(oldArchive), newId: await idOf(newArchive) };
}
