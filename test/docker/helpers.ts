/**
 * Shared fixtures for the tests that talk to a real daemon (via DOCKER_HOST,
 * start one with `bash .ci/dockerd.sh start`): a reachable-daemon check that
 * fails loudly, tiny tar builders, a busybox rootfs and legacy `docker save`
 * archives built by hand (so the tests control every byte and digest).
 */
import { execFileSync, execSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import tar from 'tar-stream';
import { expect } from 'vitest';
import { DockerClient } from '../../src/docker/index.js';
import { PatcherError } from '../../src/errors.js';

/** The repository root. */
export const ROOT = path.resolve(import.meta.dirname, '../..');
const BIN = path.join(ROOT, 'bin/docker-patcher.js');

/** A finished docker-patcher run. */
export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** docker-patcher (the built CLI) with `args`, in `cwd`, with `env` over the process environment. */
export function runPatcher(args: string[], cwd: string, env: Record<string, string>): Run {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, ...env }, timeout: 300_000, maxBuffer: 1 << 26 });
  return { status: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

/** The docker CLI against the daemon at `host` (no BuildKit); trimmed stdout, throws on failure. */
export function dockerCli(host: string, args: string[], cwd?: string): string {
  return execFileSync('docker', args, {
    cwd,
    env: { ...process.env, DOCKER_HOST: host, DOCKER_BUILDKIT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 1 << 26,
    timeout: 120_000,
  })
    .toString()
    .trim();
}

/**
 * A client for DOCKER_HOST that is known to answer. Never skips: when no
 * daemon answers, this throws (so the suite fails) with what to do about it.
 */
export async function requireDaemon(): Promise<DockerClient> {
  const client = DockerClient.fromEnv({ connectTimeoutMs: 5_000 });
  try {
    await client.ping();
  } catch (err) {
    const strict = process.env.DP_REQUIRE_DOCKER === '1' || process.env.CI === 'true';
    throw new Error(
      `Docker daemon required but unreachable at ${client.host}` +
        `${strict ? ' (DP_REQUIRE_DOCKER=1 or CI=true)' : ''}: ${(err as Error).message}. ` +
        'Start one with `bash .ci/dockerd.sh start` and `export $(bash .ci/dockerd.sh env)`.',
    );
  }
  return client;
}

/** The PatcherError `promise` rejects with (fails the test if it resolves or rejects with anything else). */
export async function rejection(promise: Promise<unknown>): Promise<PatcherError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PatcherError);
  return err as PatcherError;
}

/** A name unique to this run, e.g. `dp-test-client-1a2b3c4d`. */
export function uniqueRepo(prefix: string): string {
  return `dp-test-${prefix}-${randomBytes(4).toString('hex')}`;
}

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export interface TarFile {
  name: string;
  data: Uint8Array | string;
  mode?: number;
}

/** A small tar archive in memory (fixed mtime, so equal input gives equal bytes). */
export async function tarOf(files: TarFile[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (chunk: unknown) => chunks.push(chunk as Buffer));
  const ended = new Promise<void>((resolve, reject) => {
    pack.on('end', () => resolve());
    pack.on('error', (err: unknown) => reject(err));
  });
  for (const file of files) {
    const data = typeof file.data === 'string' ? Buffer.from(file.data) : Buffer.from(file.data);
    pack.entry({ name: file.name, mode: file.mode ?? 0o644, mtime: new Date(1_700_000_000_000) }, data);
  }
  pack.finalize();
  await ended;
  return Buffer.concat(chunks);
}

/** Debian's static busybox, installed with apt if missing. */
export function busybox(): Buffer {
  const path = '/bin/busybox';
  if (!fs.existsSync(path)) {
    execSync('apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static', {
      stdio: 'inherit',
    });
  }
  return fs.readFileSync(path);
}

/** A rootfs tar: /bin/busybox plus the given extra files. */
export function rootfsTar(extra: TarFile[] = []): Promise<Buffer> {
  return tarOf([{ name: 'bin/busybox', data: busybox(), mode: 0o755 }, ...extra]);
}

/** Feed a buffer as an async iterable in `size`-byte slices. */
export async function* chunked(data: Uint8Array, size = 64 * 1024): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < data.length; at += size) yield data.subarray(at, at + size);
}

export interface LegacyImage {
  /** `sha256:` + hex of the config JSON: the image ID the daemon will report. */
  id: string;
  /** diff_ids, bottom layer first. */
  diffIds: string[];
  /** The `docker save` (legacy layout) archive. */
  archive: Buffer;
  /** The manifest.json entry written into the archive. */
  manifest: { Config: string; RepoTags: string[]; Layers: string[] };
}

/**
 * A legacy `docker save` archive (manifest.json, <config>.json,
 * <dir>/VERSION, <dir>/layer.tar) for an image made of `layers`. Layers whose
 * index is in `omit` have no layer.tar entry (nor directory) in the archive,
 * while manifest.json still lists their path: the shape a daemon with the
 * classic store accepts when it already holds those layers.
 */
export async function legacyArchive(layers: Buffer[], repoTag: string, omit: number[] = []): Promise<LegacyImage> {
  const diffIds = layers.map((layer) => `sha256:${sha256(layer)}`);
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      created: '2024-01-01T00:00:00Z',
      config: { Cmd: ['/bin/busybox', 'sh'] },
      rootfs: { type: 'layers', diff_ids: diffIds },
      history: layers.map(() => ({ created: '2024-01-01T00:00:00Z' })),
    }),
  );
  const configHex = sha256(config);
  const layerPaths = layers.map((layer) => `${sha256(layer)}/layer.tar`);
  const manifest = { Config: `${configHex}.json`, RepoTags: [repoTag], Layers: layerPaths };
  const files: TarFile[] = [
    { name: 'manifest.json', data: JSON.stringify([manifest]) },
    { name: manifest.Config, data: config },
  ];
  layers.forEach((layer, index) => {
    if (omit.includes(index)) return;
    files.push({ name: `${sha256(layer)}/VERSION`, data: '1.0' });
    files.push({ name: layerPaths[index], data: layer });
  });
  return { id: `sha256:${configHex}`, diffIds, archive: await tarOf(files), manifest };
}

/** Remove images by reference, ignoring the ones already gone. */
export async function removeQuietly(client: DockerClient, refs: string[]): Promise<void> {
  for (const ref of refs) await client.removeImage(ref, { force: true }).catch(() => {});
}

/** The CLI runs from dist/, built once by test/global-setup.ts: fail loudly if it is not there. */
export function ensureBuilt(): void {
  for (const file of ['build/diffcore.wasm', 'dist/cli/main.js']) {
    if (!fs.existsSync(path.join(ROOT, file))) throw new Error(`${file} is missing: run npm run build (test/global-setup.ts should have)`);
  }
}
