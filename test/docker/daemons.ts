/**
 * The three engines CI runs, each as a client known to answer and to be
 * what it claims: the classic dockerd 20.10 (DOCKER_HOST), dockerd 26 with
 * the containerd image store (DP_DOCKERD26_HOST) and podman's service
 * (DP_PODMAN_HOST). Unreachable or the wrong engine = an error that fails
 * the suite, never a skip; DP_REQUIRE_* / CI=true only add that to the
 * message (a test needing an engine fails without it either way).
 */
import http from 'node:http';
import { DockerClient } from '../../src/docker/index.js';
import { requireDaemon } from './helpers.js';

export const DOCKERD26_HOST = process.env.DP_DOCKERD26_HOST || 'unix:///tmp/dp-dockerd26/docker.sock';
export const PODMAN_HOST = process.env.DP_PODMAN_HOST || 'unix:///tmp/dp-podman/podman.sock';
export const REGISTRY = process.env.DP_REGISTRY || '127.0.0.1:5055';

export type EngineKind = 'classic' | 'containerd' | 'podman';

export interface Engine {
  kind: EngineKind;
  name: string;
  /** The client, checked; throws (fails the suite) when the engine is not there. */
  require(): Promise<DockerClient>;
}

function failure(what: string, host: string, why: string, env: string, script: string): Error {
  const strict = process.env[env] === '1' || process.env.CI === 'true';
  return new Error(
    `${what} required but ${why} at ${host}${strict ? ` (${env}=1 or CI=true)` : ''}. ` +
      `Start one with \`bash .ci/${script}.sh start\` and \`export $(bash .ci/${script}.sh env)\`.`,
  );
}

/** GET `path` (unversioned) on a daemon's unix socket, as JSON. */
function getJson(host: string, path: string): Promise<any> {
  return new Promise((resolve, reject) => {
    const req = http.get({ socketPath: host.replace(/^unix:\/\//, ''), path, timeout: 10_000 }, (res) => {
      let text = '';
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => {
        try {
          resolve(JSON.parse(text));
        } catch (err) {
          reject(err as Error);
        }
      });
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`GET ${path}: timeout`)));
  });
}

async function answering(host: string, what: string, env: string, script: string): Promise<DockerClient> {
  const client = new DockerClient({ host, connectTimeoutMs: 5_000 });
  try {
    await client.ping();
  } catch (err) {
    throw failure(what, host, `unreachable (${(err as Error).message})`, env, script);
  }
  return client;
}

/** dockerd 26 running the containerd image store. */
export async function requireDockerd26(): Promise<DockerClient> {
  const what = 'dockerd 26 with the containerd store';
  const client = await answering(DOCKERD26_HOST, what, 'DP_REQUIRE_DOCKERD26', 'dockerd26');
  const info = await client.info();
  if (!JSON.stringify(info.DriverStatus ?? []).includes('io.containerd.snapshotter')) {
    throw failure(what, DOCKERD26_HOST, `not using the containerd store (driver ${String(info.Driver)})`, 'DP_REQUIRE_DOCKERD26', 'dockerd26');
  }
  return client;
}

/** podman's Docker-compatible service (a dockerd there would pass for the wrong reason). */
export async function requirePodman(): Promise<DockerClient> {
  const client = await answering(PODMAN_HOST, 'podman API service', 'DP_REQUIRE_PODMAN', 'podman');
  const version = await getJson(PODMAN_HOST, '/version');
  if (!/podman/i.test(JSON.stringify(version.Components ?? []))) throw failure('podman API service', PODMAN_HOST, 'not podman', 'DP_REQUIRE_PODMAN', 'podman');
  return client;
}

/** The classic dockerd (its store is not containerd's). */
export async function requireClassic(): Promise<DockerClient> {
  const client = await requireDaemon();
  const info = await client.info();
  if (JSON.stringify(info.DriverStatus ?? []).includes('io.containerd.snapshotter')) {
    throw new Error(`the classic dockerd required at ${client.host}, but it runs the containerd store`);
  }
  return client;
}

export const ENGINES: Engine[] = [
  { kind: 'classic', name: 'dockerd 20.10 (classic store)', require: requireClassic },
  { kind: 'containerd', name: 'dockerd 26 (containerd store)', require: requireDockerd26 },
  { kind: 'podman', name: 'podman', require: requirePodman },
];

/** The registry's `GET /v2/` must answer 200: throws (fails the suite) otherwise. */
export async function requireRegistry(): Promise<void> {
  const status = await fetch(`http://${REGISTRY}/v2/`).then(
    (res) => String(res.status),
    (err: Error) => err.message,
  );
  if (status !== '200') throw failure('local registry', `http://${REGISTRY}/v2/`, `GET gave ${status}`, 'DP_REQUIRE_REGISTRY', 'registry');
}
