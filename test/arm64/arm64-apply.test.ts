/**
 * Apply on arm64: scripts/arm64-apply.sh makes a patch with the host's node,
 * applies it with an arm64 node under qemu-user emulation in a 320M memory
 * cgroup (../shared/tools/arm64-node.sh, ARM64_MEM=320M) and cmp's the output.
 * Here: both real pairs, small and nginx-shared (the nginx run takes about
 * 30 s on the 2-core machine, apply ~15-25 s of it under emulation), and the
 * output is checked again by sha256 against the unpacked new archive.
 *
 * Fails, never skips, when qemu, the arm64 node, root (for the cgroup), zstd
 * or the shared image pairs are missing: the script exits non-zero.
 *
 * Temp dirs: each run's work dir (up to ~440 MB for nginx) goes as soon as
 * that run is checked; dirs are named with this process's pid, so a later
 * run removes those of a killed one. The script's own cleanup (on failure,
 * on SIGTERM, of dead runs' dirs) is checked with a stand-in arm64-node.sh.
 */
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, createReadStream, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { IMAGES_DIR, REPO_ROOT } from '../fixtures/shared.js';

const SCRIPT = join(REPO_ROOT, 'scripts/arm64-apply.sh');
const PREFIX = 'dp-arm64-test-';
const dirs: string[] = [];

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Remove the work dirs of earlier test processes that are gone (killed before their afterAll). */
function removeStaleDirs(): void {
  for (const name of readdirSync(tmpdir())) {
    const pid = name.startsWith(PREFIX) ? Number.parseInt(name.slice(PREFIX.length), 10) : NaN;
    if (Number.isInteger(pid) && pid !== process.pid && !alive(pid)) rmSync(join(tmpdir(), name), { recursive: true, force: true });
  }
}
removeStaleDirs();

interface Run {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  dir: string;
}

/** Run the script on `pair` with its work dir kept in a new temp dir. */
function runScript(pair: string, timeoutMs: number): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), `${PREFIX}${process.pid}-`));
  dirs.push(dir);
  // ARM64_MEM is the issue's limit, whatever the caller's environment says.
  const env = { ...process.env, ARM64_MEM: '320M' };
  return new Promise((resolve) => {
    execFile('bash', [SCRIPT, '--work-dir', dir, pair], { cwd: REPO_ROOT, env, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 1 << 24 },
      (err, stdout, stderr) => {
        const e = err as (NodeJS.ErrnoException & { code?: number | string; signal?: string }) | null;
        resolve({ code: e ? (typeof e.code === 'number' ? e.code : null) : 0, signal: e?.signal ?? null, stdout, stderr, dir });
      });
  });
}

async function sha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function expectArm64Apply(pair: string, timeoutMs: number): Promise<void> {
  const started = Date.now();
  const run = await runScript(pair, timeoutMs);
  try {
    await checkRun(pair, run, started);
  } finally {
    rmSync(run.dir, { recursive: true, force: true });
  }
}

async function checkRun(pair: string, run: Run, started: number): Promise<void> {
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const transcript = `scripts/arm64-apply.sh ${pair}: exit ${run.code}${run.signal ? ` (${run.signal})` : ''} after ${seconds} s\n` +
    `--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`;
  // The script's own summary, for whoever reads the test log.
  console.log(run.stdout.split('\n').filter((l) => l.startsWith('arm64-apply:')).join('\n'));

  expect(run.code, transcript).toBe(0);
  expect(run.stdout, transcript).toMatch(/process\.arch=arm64 /);
  // arm64-node.sh ran it in the 320M memory cgroup and the apply exited 0 there.
  expect(run.stdout, transcript).toMatch(/arm64-node: cgroup limit 320M, peak \d+ MiB, exit 0/);
  expect(run.stdout, transcript).toMatch(/OK: .* byte-identical/);

  // Independent check of the output the arm64 node wrote.
  const newName = readdirSync(run.dir).find((n) => n.endsWith('-new.tar'));
  expect(newName, transcript).toBeDefined();
  const out = join(run.dir, 'out.tar');
  const expected = join(run.dir, newName!);
  expect(statSync(out).size).toBe(statSync(expected).size);
  expect(await sha256(out)).toBe(await sha256(expected));
}

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('apply on arm64 (qemu-user, 320M memory cgroup)', () => {
  // The first run of arm64-node.sh on a machine also sets it up (apt + npm, ~30 s).
  it('small pair: byte-identical output', { timeout: 300_000 }, async () => {
    await expectArm64Apply('small', 290_000);
  });

  it('nginx-shared pair: byte-identical output within 320M', { timeout: 600_000 }, async () => {
    await expectArm64Apply('nginx-shared', 590_000);
  });
});

describe('scripts/arm64-apply.sh temp dirs (a stand-in arm64-node.sh, no qemu)', () => {
  /** A shared dir whose small pair is the real one and whose arm64-node.sh runs `tool`; TMPDIR private. */
  function fakeShared(tool: string): { shared: string; tmp: string } {
    const base = mkdtempSync(join(tmpdir(), `${PREFIX}${process.pid}-`));
    dirs.push(base);
    const shared = join(base, 'shared');
    const tmp = join(base, 'tmp');
    for (const d of [join(shared, 'images'), join(shared, 'tools'), tmp]) mkdirSync(d, { recursive: true });
    copyFileSync(join(IMAGES_DIR, 'small.tar.zst'), join(shared, 'images/small.tar.zst')); // zstd skips symlinks
    writeFileSync(join(shared, 'tools/arm64-node.sh'), `#!/bin/sh\n${tool}\n`, { mode: 0o755 });
    return { shared, tmp };
  }

  function start(shared: string, tmp: string) {
    const child = spawn('bash', [SCRIPT, 'small'], { cwd: REPO_ROOT, env: { ...process.env, DP_SHARED_DIR: shared, TMPDIR: tmp }, detached: true });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
      child.on('close', (code) => resolve({ code, stdout, stderr })),
    );
    return { child, exited, output: () => stdout };
  }

  it('removes its work dir when a step fails, and the dirs of runs that were killed', { timeout: 60_000 }, async () => {
    const { shared, tmp } = fakeShared('exit 3');
    const dead = join(tmp, 'dp-arm64-2147483646-abcdef'); // no such pid
    const live = join(tmp, `dp-arm64-${process.pid}-abcdef`); // a running process's: left alone
    for (const d of [dead, live]) mkdirSync(d);
    const run = await start(shared, tmp).exited;
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toMatch(/arm64-node\.sh cannot run an arm64 node/);
    expect(run.stdout).toMatch(/work dir .*dp-arm64-\d+-/); // it got as far as unpacking into its work dir
    expect(readdirSync(tmp)).toEqual([`dp-arm64-${process.pid}-abcdef`]);
  });

  it('removes its work dir on SIGTERM', { timeout: 60_000 }, async () => {
    const { shared, tmp } = fakeShared('exec sleep 30');
    const run = start(shared, tmp);
    const deadline = Date.now() + 50_000;
    while (!/work dir /.test(run.output()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(readdirSync(tmp)).toHaveLength(1);
    process.kill(-run.child.pid!, 'SIGTERM'); // the whole group, as a terminal's Ctrl-C or a service manager does
    const result = await run.exited;
    expect(result.code).toBe(143);
    expect(readdirSync(tmp)).toEqual([]);
  });
});
