/**
 * Every run ends (issue 12 item 6). Node 20 can deadlock at exit when a
 * concurrent optimizing compile waits for a GC only the main thread can run
 * (nodejs/node#54918); before the fix `patch` hung in about 1 run of 5 here
 * with three runs at a time. The CLI now runs with concurrent recompilation
 * off, and the library turns it off before starting diff workers; both are
 * checked through V8's own --trace-opt lines, and every command is run many
 * times under a time limit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { cli, ensureBuilt, ROOT, scratchDir } from './helpers.js';
import { debianBsdiff, mutate, randomBytes } from '../format/helpers.js';
import { buildDockerArchive, samplePair } from '../fixtures/images.js';

const BIN = join(ROOT, 'bin/docker-patcher.js');
const RUNS = 30;
const LIMIT_MS = 30_000;
let dir: string;
let newId: string;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeAll(async () => {
  ensureBuilt();
  dir = scratchDir();
  const old = randomBytes(2_000_000, 31);
  const neu = mutate(old, 400, 32);
  writeFileSync(join(dir, 'old'), old);
  writeFileSync(join(dir, 'new'), neu);
  const classic = debianBsdiff(old, neu);
  writeFileSync(join(dir, 'good.bsdiff'), classic);
  const corrupt = Buffer.from(classic);
  corrupt[Math.floor(corrupt.length * 0.6)] ^= 0x55;
  writeFileSync(join(dir, 'bad.bsdiff'), corrupt);
  const pair = samplePair();
  writeFileSync(join(dir, 'old.tar'), await buildDockerArchive(pair.old));
  writeFileSync(join(dir, 'new.tar'), await buildDockerArchive(pair.new));
  const r = cli(['create', '--json', join(dir, 'old.tar'), join(dir, 'new.tar'), join(dir, 'image.patch')]);
  expect(r.status, r.stderr).toBe(0);
  newId = JSON.parse(r.stdout.toString()).newImageId;
}, 300_000);

/**
 * How --trace-opt says optimized compiles ran ("compiling method ... mode:
 * ConcurrencyMode::k..."). The bin's waiting parent only "marks" a few
 * startup functions before it spawns the CLI, and compiles nothing after.
 */
function modes(stdout: string): { concurrent: number; synchronous: number } {
  return { concurrent: (stdout.match(/mode: ConcurrencyMode::kConcurrent/g) ?? []).length, synchronous: (stdout.match(/mode: ConcurrencyMode::kSynchronous/g) ?? []).length };
}

describe('concurrent recompilation is off', () => {
  it('in the CLI process', () => {
    const r = spawnSync(process.execPath, ['--trace-opt', BIN, '-q', 'diff', join(dir, 'old'), join(dir, 'new'), join(dir, 'traced.patch')], { maxBuffer: 1 << 26 });
    expect(r.status, r.stderr.toString()).toBe(0);
    const seen = modes(r.stdout.toString());
    expect(seen.synchronous).toBeGreaterThan(0);
    expect(seen.concurrent).toBe(0);
  });

  it('in isolates started after the library made its diff workers', () => {
    const script = join(dir, 'workers.mjs');
    writeFileSync(
      script,
      `import { Worker } from 'node:worker_threads';
import { setFlagsFromString } from 'node:v8';
const { createRunner } = await import(${JSON.stringify(pathToFileURL(join(ROOT, 'dist/delta/runner.node.js')).href)});
await (await createRunner(2)).close();
// A hot loop in a fresh worker: its optimizations show the flag it started
// with. Traced from here on only, so this (idle) thread's own compiles are not counted.
setFlagsFromString('--trace-opt');
new Worker('function f(x){let s=0;for(let i=0;i<1000;i++)s+=i*x;return s} let t=0; for(let i=0;i<200000;i++) t+=f(i);', { eval: true });
`,
    );
    const r = spawnSync(process.execPath, [script], { maxBuffer: 1 << 26 });
    expect(r.status, r.stderr.toString()).toBe(0);
    const seen = modes(r.stdout.toString());
    expect(seen.synchronous).toBeGreaterThan(0);
    expect(seen.concurrent).toBe(0);
  });
});

/** Run the CLI; null status = killed at the time limit (a hang). */
function run(args: string[]): Promise<number | null> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, '-q', ...args], { stdio: 'ignore' });
    const timer = setTimeout(() => child.kill('SIGKILL'), LIMIT_MS);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

/** `count` runs, three at a time (the hang needs a busy machine to show). */
async function many(count: number, args: (i: number) => string[]): Promise<Array<number | null>> {
  const statuses: Array<number | null> = [];
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) statuses.push(await run(args(next++)));
  };
  await Promise.all([lane(), lane(), lane()]);
  return statuses;
}

describe(`each command ends, ${RUNS} runs each, ${LIMIT_MS / 1000} s limit per run`, () => {
  const W = (name: string): string => join(dir, name);
  const cases: Array<[string, (i: number) => string[], number]> = [
    ['diff', (i) => ['diff', W('old'), W('new'), W(`d${i}`)], 0],
    ['patch, valid BSDIFF40', (i) => ['patch', W('old'), W('good.bsdiff'), W(`p${i}`)], 0],
    ['patch, corrupt BSDIFF40', (i) => ['patch', W('old'), W('bad.bsdiff'), W(`c${i}`)], 5],
    ['create', (i) => ['create', W('old.tar'), W('new.tar'), W(`i${i}.patch`)], 0],
    ['apply', (i) => ['apply', W('old.tar'), newId, W('image.patch'), '-o', W(`a${i}.tar`)], 0],
    ['inspect', () => ['inspect', W('image.patch')], 0],
    ['verify', () => ['verify', W('old.tar'), W('image.patch'), newId], 0],
  ];
  for (const [name, args, status] of cases) {
    it(name, async () => {
      const statuses = await many(RUNS, args);
      expect(statuses.filter((s) => s === null), `${name}: runs that did not end`).toHaveLength(0);
      expect(new Set(statuses)).toEqual(new Set([status]));
    }, RUNS * LIMIT_MS);
  }
});

it('the patch made by create still applies (sanity for the runs above)', () => {
  const r = cli(['-q', 'apply', join(dir, 'old.tar'), newId, join(dir, 'image.patch'), '-o', join(dir, 'check.tar')]);
  expect(r.status, r.stderr).toBe(0);
  expect(readFileSync(join(dir, 'check.tar')).equals(readFileSync(join(dir, 'new.tar')))).toBe(true);
});
