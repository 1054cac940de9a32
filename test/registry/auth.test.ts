/**
 * Registry auth against a real docker-registry 2.8: TLS with a certificate
 * made here by openssl plus htpasswd basic auth, and token auth with a
 * token issuer in the test that the registry trusts (rootcertbundle).
 * Credentials by --username/--password-stdin and from config.json `auths`;
 * a wrong password, no credentials and an untrusted certificate each fail
 * with one line and exit 11, storing nothing.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../cli/helpers.js';
import { testTempDir } from '../temp-dirs.js';
import {
  expectOneLineError,
  htpasswdLine,
  makeCertificate,
  makePatchPair,
  run,
  runAsync,
  startRegistry,
  startTokenIssuer,
  storeListing,
  type PatchPair,
  type TestRegistry,
  type TokenIssuer,
} from './helpers.js';

const USER = 'fleet';
const PASSWORD = 'pa55 w0rd:with-colon';

let pair: PatchPair;
let certDir: string;

beforeAll(async () => {
  ensureBuilt();
  pair = await makePatchPair('dp-test/app:2');
  certDir = testTempDir('dp-regcert-');
});

/** A DOCKER_CONFIG directory whose config.json logs `user` into `host`. */
function dockerConfig(host: string, user: string, password: string): string {
  const dir = join(certDir, `docker-config-${user}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ auths: { [host]: { auth: Buffer.from(`${user}:${password}`).toString('base64') } } }));
  return dir;
}

describe('TLS + htpasswd basic auth', () => {
  let registry: TestRegistry;
  let cert: { cert: string; key: string };

  beforeAll(async () => {
    cert = makeCertificate(certDir, 'tls');
    const htpasswd = join(certDir, 'htpasswd');
    writeFileSync(htpasswd, `${htpasswdLine(USER, PASSWORD)}\n`);
    registry = await startRegistry({ tls: cert, htpasswd });
  });
  afterAll(async () => {
    await registry?.stop();
  });

  it('pushes and applies with --ca-cert, --username and --password-stdin', () => {
    const login = ['--ca-cert', cert.cert, '-u', USER, '--password-stdin'];
    const push = run(['push', pair.patch, `${registry.host}/dp/app`, ...login], { input: `${PASSWORD}\n` });
    expect(push.stderr).toMatch(/pushed/);
    expect(push.status).toBe(0);
    const out = join(pair.dir, 'tls.tar');
    const apply = run(['apply', '-q', pair.oldTar, pair.newId, '--from-registry', push.stdout.trim(), '-o', out, ...login], { input: PASSWORD });
    expect(apply.stderr).toBe('');
    expect(readFileSync(out).equals(Buffer.from(pair.newArchive))).toBe(true);
  });

  it('takes credentials from config.json auths', () => {
    const env = { DOCKER_CONFIG: dockerConfig(registry.host, USER, PASSWORD) };
    const push = run(['push', pair.patch, `${registry.host}/dp/fromconfig`, '--ca-cert', cert.cert], { env });
    expect(push.stderr).toMatch(/pushed/);
    const out = join(pair.dir, 'config.tar');
    expect(run(['apply', '-q', pair.oldTar, pair.newId, '--from-registry', push.stdout.trim(), '-o', out, '--ca-cert', cert.cert], { env }).status).toBe(0);
    expect(readFileSync(out).equals(Buffer.from(pair.newArchive))).toBe(true);
  });

  it('a wrong password, no credentials: one line, exit 11, nothing stored', () => {
    const before = storeListing(registry.dir);
    expectOneLineError(run(['push', pair.backPatch, `${registry.host}/dp/app`, '--ca-cert', cert.cert, '-u', USER, '--password-stdin'], { input: 'wrong' }), 11, /refused access as fleet/);
    expectOneLineError(run(['push', pair.backPatch, `${registry.host}/dp/app`, '--ca-cert', cert.cert]), 11, /needs a login/);
    const env = { DOCKER_CONFIG: dockerConfig(registry.host, USER, 'wrong') };
    const out = join(pair.dir, 'wrong.tar');
    expectOneLineError(run(['apply', pair.oldTar, pair.newId, '--from-registry', `${registry.host}/dp/app:x`, '-o', out, '--ca-cert', cert.cert], { env }), 11, /refused access/);
    expect(existsSync(out)).toBe(false);
    expect(storeListing(registry.dir)).toEqual(before);
  });

  it('an untrusted certificate is refused; --insecure-registry accepts it', () => {
    const login = ['-u', USER, '--password-stdin'];
    expectOneLineError(run(['push', pair.patch, `${registry.host}/dp/app`, ...login], { input: PASSWORD }), 11, /certificate not trusted.*--ca-cert/);
    const r = run(['push', pair.patch, `${registry.host}/dp/app`, ...login, '--insecure-registry', '127.0.0.1'], { input: PASSWORD });
    expect(r.stderr).toMatch(/already there/);
    expect(r.status).toBe(0);
  });
});

describe('token auth (bearer challenge, token endpoint, scopes)', async () => {
  let registry: TestRegistry;
  let issuer: TokenIssuer;

  beforeAll(async () => {
    const signing = makeCertificate(certDir, 'token-signer');
    issuer = await startTokenIssuer(signing, USER, PASSWORD);
    registry = await startRegistry({ token: { realm: issuer.realm, service: issuer.service, issuer: issuer.issuer, rootCertBundle: signing.cert } });
  });
  afterAll(async () => {
    await registry?.stop();
    await issuer?.stop();
  });

  it('gets a token for the repository scope and pushes, then applies', async () => {
    const login = ['-u', USER, '--password-stdin'];
    const push = await runAsync(['push', pair.patch, `${registry.host}/dp/app`, ...login], { input: PASSWORD });
    expect(push.stderr).toMatch(/pushed/);
    expect(issuer.requests.map((r) => r.scope)).toContain('repository:dp/app:pull,push');
    const out = join(pair.dir, 'token.tar');
    const apply = await runAsync(['apply', '-q', pair.oldTar, pair.newId, '--from-registry', push.stdout.trim(), '-o', out, ...login], { input: PASSWORD });
    expect(apply.stderr).toBe('');
    expect(readFileSync(out).equals(Buffer.from(pair.newArchive))).toBe(true);
    expect(issuer.requests.map((r) => r.scope)).toContain('repository:dp/app:pull');
  });

  it('a wrong password or none: one line, exit 11, nothing stored', async () => {
    const before = storeListing(registry.dir);
    expectOneLineError(await runAsync(['push', pair.backPatch, `${registry.host}/dp/app`, '-u', USER, '--password-stdin'], { input: 'nope' }), 11, /refused access as fleet/);
    expectOneLineError(await runAsync(['push', pair.backPatch, `${registry.host}/dp/app`]), 11, /refused access anonymously/);
    expect(storeListing(registry.dir)).toEqual(before);
  });
});
