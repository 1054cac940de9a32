/**
 * Outputs (issue 12 items 1, 3, 7, 9): FIFOs and symlinks are not renamed
 * over, an output that is an input is refused, the output path is checked
 * before the work, a closed stdout pipe ends quietly like cat, stale temp
 * files are swept; --json/-t/terminal usage errors; --expect-sha256; what
 * to do messages; a signal after the output is in place exits 0.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { cli, ensureBuilt, listDir, ROOT, scratchDir } from './helpers.js';
import { debianBsdiff, mutate, randomBytes } from '../format/helpers.js';
import { buildDockerArchive, samplePair } from '../fixtures/images.js';
import { createProgress } from '../../src/cli/progress.js';

const BIN = join(ROOT, 'bin/docker-patcher.js');
const old = randomBytes(300_000, 21);
const neu = mutate(old, 60, 22);
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
let dir: string;
let newId: string;
const cleanup: string[] = [];
afterAll(() => cleanup.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A fresh dir with old, new, patch (raw), bsdiff40 and the two image archives and their patch. */
function work(): string {
  const w = scratchDir();
  cleanup.push(w);
  for (const name of ['old', 'new', 'patch', 'classic', 'old.tar', 'new.tar', 'image.patch']) writeFileSync(join(w, name), readFileSync(join(dir, name)));
  return w;
}

function expectOneLine(stderr: string, pattern: RegExp): void {
  expect(stderr.trimEnd().split('\n'), stderr).toHaveLength(1);
  expect(stderr).toMatch(/^docker-patcher: /);
  expect(stderr).toMatch(pattern);
}

beforeAll(async () => {
  ensureBuilt();
  dir = scratchDir();
  cleanup.push(dir);
  writeFileSync(join(dir, 'old'), old);
  writeFileSync(join(dir, 'new'), neu);
  writeFileSync(join(dir, 'classic'), debianBsdiff(old, neu));
  expect(cli(['-q', 'diff', join(dir, 'old'), join(dir, 'new'), join(dir, 'patch')]).status).toBe(0);
  const pair = samplePair();
  writeFileSync(join(dir, 'old.tar'), await buildDockerArchive(pair.old));
  writeFileSync(join(dir, 'new.tar'), await buildDockerArchive(pair.new));
  const r = cli(['create', '--json', join(dir, 'old.tar'), join(dir, 'new.tar'), join(dir, 'image.patch')]);
  expect(r.status, r.stderr).toBe(0);
  newId = JSON.parse(r.stdout.toString()).newImageId;
}, 300_000);

describe('outputs are not renamed over', () => {
  it('a FIFO is written through, and stays a FIFO', async () => {
    const w = work();
    execFileSync('mkfifo', [join(w, 'fifo')]);
    const reader = spawn('cat', [join(w, 'fifo')]);
    const got: Buffer[] = [];
    reader.stdout.on('data', (c: Buffer) => got.push(c));
    const ended = new Promise<number | null>((resolve) => reader.on('exit', resolve));
    const r = spawn(process.execPath, [BIN, '-q', 'patch', join(w, 'old'), join(w, 'patch'), join(w, 'fifo')]);
    const status = await new Promise<number | null>((resolve) => r.on('exit', resolve));
    const timer = setTimeout(() => reader.kill(), 5000);
    await ended;
    clearTimeout(timer);
    expect(status).toBe(0);
    expect(lstatSync(join(w, 'fifo')).isFIFO()).toBe(true);
    expect(sha(Buffer.concat(got))).toBe(sha(neu));
  });

  it("a symlink keeps being a link; its target gets the output", () => {
    const w = work();
    mkdirSync(join(w, 'sub'));
    symlinkSync('sub/real.patch', join(w, 'link.patch'));
    expect(cli(['-q', 'diff', join(w, 'old'), join(w, 'new'), join(w, 'link.patch')]).status).toBe(0);
    expect(lstatSync(join(w, 'link.patch')).isSymbolicLink()).toBe(true);
    expect(readFileSync(join(w, 'sub/real.patch')).equals(readFileSync(join(w, 'patch')))).toBe(true);
    expect(listDir(join(w, 'sub'))).toEqual(['real.patch']);
  });

  it('an output that is an input is refused, and the input is untouched', () => {
    const w = work();
    const before = Object.fromEntries(['old', 'patch', 'old.tar', 'image.patch'].map((n) => [n, sha(readFileSync(join(w, n)))]));
    const cases: Array<[string[], RegExp]> = [
      [['create', '$W/old.tar', '$W/new.tar', '$W/old.tar'], /same file as OLD/],
      [['diff', '$W/old', '$W/new', '$W/old'], /same file as OLD/],
      [['apply', '$W/old.tar', newId, '$W/image.patch', '-o', '$W/old.tar'], /same file as OLD/],
      [['apply', '$W/old.tar', newId, '$W/image.patch', '-o', '$W/image.patch'], /same file as PATCH/],
      [['patch', '$W/old', '$W/patch', '$W/patch'], /same file as PATCH/],
    ];
    symlinkSync(join(w, 'old'), join(w, 'alias'));
    cases.push([['diff', '$W/old', '$W/new', '$W/alias'], /same file as OLD/]);
    for (const [args, pattern] of cases) {
      const r = cli(args.map((a) => a.replaceAll('$W', w)));
      expect(r.status, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expectOneLine(r.stderr, pattern);
    }
    for (const [n, digest] of Object.entries(before)) expect(sha(readFileSync(join(w, n))), n).toBe(digest);
  });

  it('a directory as output fails at once, before reading the inputs', () => {
    const w = work();
    mkdirSync(join(w, 'adir'));
    writeFileSync(join(w, 'junk.tar'), 'not a tar at all\n'.repeat(100));
    // Checked first: the bad OLD is never reached.
    const r = cli(['create', join(w, 'junk.tar'), join(w, 'new.tar'), join(w, 'adir')]);
    expect(r.status, r.stderr).toBe(3);
    expectOneLine(r.stderr, /adir.*is a directory/);
    const a = cli(['apply', join(w, 'junk.tar'), newId, join(w, 'image.patch'), '-o', join(w, 'adir')]);
    expect(a.status, a.stderr).toBe(3);
    expect(listDir(join(w, 'adir'))).toEqual([]);
  });

  it('a closed stdout pipe ends the run quietly, as cat does (SIGPIPE, 141)', () => {
    const w = work();
    const script = `node ${BIN} apply ${w}/old.tar ${newId} ${w}/image.patch -o - 2>${w}/err | head -c 1000 >/dev/null; echo \${PIPESTATUS[0]}`;
    const r = spawnSync('bash', ['-c', script]);
    expect(r.stdout.toString().trim()).toBe('141');
    expect(readFileSync(join(w, 'err'), 'utf8')).toBe('');
  });

  it('temp files have a recognisable name, and a run sweeps those of dead processes', () => {
    const w = work();
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    const stale = `.p.docker-patcher-${dead}-0badcafe.tmp`;
    const live = `.p.docker-patcher-${process.pid}-0badcafe.tmp`;
    writeFileSync(join(w, stale), 'left by a SIGKILL');
    writeFileSync(join(w, live), 'a run still going');
    expect(cli(['-q', 'diff', join(w, 'old'), join(w, 'new'), join(w, 'p')]).status).toBe(0);
    expect(existsSync(join(w, stale))).toBe(false);
    expect(existsSync(join(w, live))).toBe(true);
  });
});

describe('verify', () => {
  it('checks everything apply checks and writes nothing; exit statuses as apply', () => {
    const w = work();
    const before = listDir(w);
    const ok = cli(['verify', join(w, 'old.tar'), join(w, 'image.patch'), newId.slice(7, 19)]);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout.length).toBe(0);
    expect(ok.stderr).toMatch(/verified/);
    expect(JSON.parse(cli(['verify', '--json', join(w, 'old.tar'), join(w, 'image.patch')]).stdout.toString())).toMatchObject({ newImageId: newId, verified: true });
    expect(cli(['verify', join(w, 'new.tar'), join(w, 'image.patch')]).status).toBe(6);
    expect(cli(['verify', join(w, 'old.tar'), join(w, 'image.patch'), 'ab'.repeat(32)]).status).toBe(6);
    const bad = readFileSync(join(w, 'image.patch'));
    bad[Math.floor(bad.length / 2)] ^= 0x40;
    writeFileSync(join(w, 'bad.patch'), bad);
    expect(cli(['verify', join(w, 'old.tar'), join(w, 'bad.patch')]).status).toBe(5);
    expect(cli(['verify', join(w, 'old.tar'), '-'], bad).status).toBe(5);
    expect(listDir(w)).toEqual([...before, 'bad.patch'].sort());
  });
});

describe('usage', () => {
  it('--json with - as the binary output, and -t with -o, are usage errors', () => {
    const w = work();
    for (const args of [
      ['create', '--json', '$W/old.tar', '$W/new.tar', '-'],
      ['apply', '--json', '$W/old.tar', newId, '$W/image.patch', '-o', '-'],
      ['apply', '$W/old.tar', newId, '$W/image.patch', '-o', '$W/out.tar', '-t', 'app:v2'],
    ]) {
      const r = cli(args.map((a) => a.replaceAll('$W', w)));
      expect(r.status, r.stderr).toBe(2);
      expect(r.stdout.length).toBe(0);
    }
    expect(existsSync(join(w, 'out.tar'))).toBe(false);
  });

  it('binary output to a terminal is refused', () => {
    const w = work();
    const r = spawnSync('script', ['-qec', `node ${BIN} diff ${w}/old ${w}/new -`, '/dev/null']);
    expect(r.status).toBe(2);
    expect(r.stdout.toString()).toMatch(/refusing to write PATCH to a terminal/);
  });

  it('TERM=dumb gets no progress line, NO_COLOR no escape sequences', () => {
    for (const env of [{ TERM: 'dumb' }, { TERM: 'xterm', NO_COLOR: '1' }]) {
      let written = '';
      const stream = { isTTY: true, write: (s: string) => void (written += s) } as unknown as NodeJS.WriteStream;
      const p = createProgress({ stream, env, intervalMs: 0 });
      p.phase('diffing', 1000);
      p.update(500);
      p.clear();
      expect(written).not.toContain('\x1b');
      if (env.TERM === 'dumb') expect(written).toBe('');
      else expect(written).toContain('diffing');
    }
  });
});

describe('--expect-sha256 (classic patches carry no checksum of their output)', () => {
  it('says so in patch --help', () => {
    expect(cli(['patch', '--help']).stdout.toString()).toMatch(/no checksum[\s\S]*--expect-sha256/);
  });

  it('a matching digest writes NEW; another one exits 7 and writes nothing', () => {
    const w = work();
    const ok = cli(['patch', '--expect-sha256', sha(neu), join(w, 'old'), join(w, 'classic'), join(w, 'out')]);
    expect(ok.status, ok.stderr).toBe(0);
    expect(sha(readFileSync(join(w, 'out')))).toBe(sha(neu));
    const before = listDir(w);
    for (const target of [join(w, 'other'), '-']) {
      const bad = cli(['patch', '--expect-sha256', `sha256:${'cd'.repeat(32)}`, join(w, 'old'), join(w, 'classic'), target]);
      expect(bad.status, bad.stderr).toBe(7);
      expectOneLine(bad.stderr, /expect-sha256/);
      expect(bad.stdout.length).toBe(0);
    }
    expect(listDir(w)).toEqual(before);
    expect(cli(['patch', '--expect-sha256', 'xyz', join(w, 'old'), join(w, 'classic'), join(w, 'x')]).status).toBe(2);
  });
});

describe('messages that say what to do', () => {
  it('NEW given as a tag or a path names the ID to give', () => {
    const w = work();
    for (const arg of ['app:v2', join(w, 'new.tar')]) {
      const r = cli(['apply', join(w, 'old.tar'), arg, join(w, 'image.patch'), '-o', join(w, 'out.tar')]);
      expect(r.status, r.stderr).toBe(2);
      expectOneLine(r.stderr, new RegExp(`NEW must be the image ID the patch makes, ${newId.slice(7, 19)}; use -t to tag`));
    }
  });

  it('no daemon reachable: names -H and DOCKER_HOST', () => {
    const w = work();
    const r = spawnSync(process.execPath, [BIN, 'create', 'app:v1', 'app:v2', join(w, 'p')], {
      env: { ...process.env, DOCKER_HOST: `unix://${w}/no.sock` },
    });
    expect(r.status).toBe(8);
    expectOneLine(r.stderr.toString(), /-H.*DOCKER_HOST/);
  });

  it('a signal that arrives once the output is in place exits 0', () => {
    const w = work();
    // SIGTERM ourselves right after the output's rename, while the run still winds down.
    writeFileSync(
      join(w, 'late-signal.mjs'),
      `import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
const rename = fs.promises.rename;
fs.promises.rename = async (...args) => {
  const done = await rename(...args);
  if (String(args[1]).endsWith('out.tar')) { process.kill(process.pid, 'SIGTERM'); setTimeout(() => undefined, 300); }
  return done;
};
syncBuiltinESMExports();
const { main } = await import(${JSON.stringify(pathToFileURL(join(ROOT, 'dist/cli/main.js')).href)});
process.exitCode = await main(['node', 'docker-patcher', ...process.argv.slice(2)]);
`,
    );
    const r = spawnSync(process.execPath, [join(w, 'late-signal.mjs'), '-q', 'apply', join(w, 'old.tar'), newId, join(w, 'image.patch'), '-o', join(w, 'out.tar')]);
    expect(r.stderr.toString()).toBe('');
    expect(r.status).toBe(0);
    expect(sha(readFileSync(join(w, 'out.tar')))).toBe(sha(readFileSync(join(w, 'new.tar'))));
  });
});
