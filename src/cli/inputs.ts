/**
 * What OLD and NEW name on the command line: a `docker save` / OCI archive
 * on disk, or an image in the Docker daemon (full ID, short ID, name:tag).
 * A path that exists is an archive; anything else is an image reference.
 * Also the temporary directories the daemon paths need, removed on success,
 * failure and Ctrl-C alike.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Option } from 'commander';
import type { DockerClient } from '../docker/client.js';
import { ErrorCode, PatcherError } from '../errors.js';

export type ImageArg = { kind: 'archive'; path: string } | { kind: 'daemon'; ref: string };

const REF = /^[a-z0-9][a-z0-9._\-/:@]*$/i;

export function classifyImageArg(arg: string, label: string): ImageArg {
  let stat;
  try {
    stat = statSync(arg);
  } catch {
    stat = undefined;
  }
  if (stat?.isFile()) return { kind: 'archive', path: arg };
  if (stat?.isDirectory()) throw new PatcherError(ErrorCode.Usage, `${label} '${arg}' is a directory, not an image archive`);
  // Looks like a path (not an image reference): say the file is missing.
  if (arg.startsWith('.') || arg.startsWith('/') || /\.(tar|tgz|tar\.gz|oci)$/i.test(arg)) {
    throw new PatcherError(ErrorCode.Io, `cannot read ${label} '${arg}': no such file`);
  }
  if (!REF.test(arg)) throw new PatcherError(ErrorCode.Usage, `${label} '${arg}' is neither an archive file nor an image reference`);
  return { kind: 'daemon', ref: arg };
}

/**
 * Docker's rule for a reference's first path component: a registry host
 * when it contains '.' or ':' or is 'localhost' (`127.0.0.1:5000/app:2`,
 * `ghcr.io/me/app`, `localhost/app`), otherwise part of a Docker Hub name
 * (`me/app`, `nginx:1.25`). A reference with no '/' never names one, nor
 * a relative path (`./x/y`, `../x/y`).
 */
export function namesRegistryHost(ref: string): boolean {
  const slash = ref.indexOf('/');
  if (slash <= 0) return false;
  const first = ref.slice(0, slash);
  if (first === '.' || first === '..') return false;
  return first.includes('.') || first.includes(':') || first === 'localhost';
}

export interface DaemonOptions {
  dockerHost?: string;
  tempDir?: string;
}

/** The options every command that may talk to the daemon shares. */
export function daemonOptions(): Option[] {
  return [
    new Option('-H, --docker-host <host>', 'Docker Engine API: unix:///path or tcp://host:port (default: $DOCKER_HOST, else unix:///var/run/docker.sock)'),
    new Option('-d <host>', 'same as --docker-host (the original tool\'s flag)').hideHelp(),
    new Option('-e, --temp-dir <dir>', 'where temporary files go (default: the system temp dir)'),
  ];
}

/** The daemon's client (its module loaded on first use). */
export async function dockerClient(options: DaemonOptions & { d?: string }): Promise<DockerClient> {
  const { DockerClient } = await import('../docker/client.js');
  return DockerClient.fromEnv({ host: options.dockerHost ?? options.d });
}

const liveDirs = new Set<string>();
process.on('exit', () => {
  for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true });
});

/** Run `fn` with a fresh temporary directory, removed afterwards whatever happens. */
export async function withTempDir<T>(base: string | undefined, fn: (dir: string) => Promise<T>): Promise<T> {
  let dir: string;
  try {
    dir = mkdtempSync(join(base ?? tmpdir(), 'docker-patcher-'));
  } catch (err) {
    throw new PatcherError(ErrorCode.Io, `cannot create a temporary directory in ${base ?? tmpdir()}: ${(err as Error).message}`);
  }
  liveDirs.add(dir);
  try {
    return await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    liveDirs.delete(dir);
  }
}
