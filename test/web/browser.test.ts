/**
 * The browser demo end to end in Debian's Chromium (never a downloaded one):
 * build web/dist, serve it, feed the `small` image pair through the page's
 * file inputs, create the patch, apply it back and check the page reports
 * the new image ID and matching digests, that the patch is byte for byte the
 * CLI's, made on the diff workers with the core's sha256, and still the
 * same where the diff workers cannot start or Workers do not exist (one
 * core on the page's worker); then check a bad file's message;
 * the device side (old archive + patch file -> download the new archive);
 * and, on the nginx pair, that progress moves within the first second and
 * Cancel returns the page to idle.
 * Needs /usr/bin/chromium (apt package `chromium`) and build/diffcore.wasm.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/cli/web-server.js';
import { createPatch } from '../../src/delta/create.js';
import { fileSource, nodeHasher } from '../../src/image/source.node.js';
import { IMAGES_DIR, NGINX, unpackPair } from '../fixtures/shared.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const CHROMIUM = '/usr/bin/chromium';
const OUTPUT = join(REPO, 'test-output');
const NEW_ID = 'sha256:ef00d94482b92bbaeeb1271ad68af9656bec1452830ce626bb32b54098553a7b';
/** The page works through ~11 MB with a pure-JS sha256; allow slow CI machines. */
const STEP_TIMEOUT = 240_000;

/** Wait until one of the selectors is visible; returns which one. */
async function firstVisible(page: Page, selectors: string[]): Promise<string> {
  const handle = await page.waitForFunction(
    (ids) => ids.find((id) => !(document.querySelector(id) as HTMLElement | null)?.hidden) ?? false,
    selectors,
    { timeout: STEP_TIMEOUT, polling: 250 },
  );
  return (await handle.jsonValue()) as string;
}

function run(command: string, args: string[], what: string): void {
  const result = spawnSync(command, args, { cwd: REPO, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${what} failed (${result.error?.message ?? `exit ${result.status}`}): ${result.stderr}`);
}

describe('browser demo (Chromium)', () => {
  let dir: string;
  let server: RunningServer;
  let context: BrowserContext;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} is missing: install Debian's Chromium (apt-get install chromium); this test never downloads a browser`);
    }
    const pair = join(IMAGES_DIR, 'small.tar.zst');
    if (!existsSync(pair)) throw new Error(`${pair} is missing: the shared image pairs must sit next to the repository`);
    dir = mkdtempSync(join(tmpdir(), 'dp-web-'));
    run('sh', ['-c', 'zstd -q -d --long=28 -c "$0" | tar -xf - -C "$1"', pair, dir], 'unpacking small.tar.zst');
    server = await startServer({ port: 0 });
    context = await chromium.launchPersistentContext(join(dir, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1100, height: 900 },
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(message.text());
    });
    mkdirSync(OUTPUT, { recursive: true });
  });

  afterAll(async () => {
    await context?.close();
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    if (nginxDir) rmSync(nginxDir, { recursive: true, force: true });
  });
  let nginxDir: string | undefined;
  let cliPatch: Buffer | undefined;

  /** The CLI's patch for the small pair, made once (default options, as the page's). */
  function smallCliPatch(): Buffer {
    if (!cliPatch) {
      const out = join(dir, 'cli-small.patch');
      run('node', [join(REPO, 'bin/docker-patcher.js'), 'create', '--quiet', join(dir, 'small-old.tar'), join(dir, 'small-new.tar'), out], 'docker-patcher create');
      cliPatch = readFileSync(out);
    }
    return cliPatch;
  }

  /** Create on the small pair in the page; returns the patch it offers for download. */
  async function createSmallInPage(): Promise<Buffer> {
    await page.goto(server.url);
    await page.setInputFiles('#old-file', join(dir, 'small-old.tar'));
    await page.setInputFiles('#new-file', join(dir, 'small-new.tar'));
    await page.click('#create');
    if ((await firstVisible(page, ['#result', '#error'])) === '#error') expect(await page.textContent('#error')).toBe('');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-patch')]);
    const saved = join(dir, `page-${Date.now()}.patch`);
    await download.saveAs(saved);
    return readFileSync(saved);
  }

  it('creates a patch for the small pair, applies it back and reports a match', async () => {
    const diffWorkers: string[] = [];
    const onWorker = (worker: { url(): string }) => {
      if (worker.url().endsWith('/diff-worker.js')) diffWorkers.push(worker.url());
    };
    page.on('worker', onWorker);
    const pagePatch = await createSmallInPage();
    page.off('worker', onWorker);
    // Made on min(hardwareConcurrency, 4) module workers, hashed by the core's sha256, and the CLI's bytes exactly.
    const cores = await page.evaluate(() => navigator.hardwareConcurrency);
    const expectWorkers = Math.max(1, Math.min(cores, 4));
    expect(await page.getAttribute('#engine', 'data-workers')).toBe(String(expectWorkers));
    expect(await page.getAttribute('#engine', 'data-sha256')).toBe('core');
    expect(diffWorkers).toHaveLength(expectWorkers > 1 ? expectWorkers : 0);
    expect(pagePatch.equals(smallCliPatch())).toBe(true);

    const headline = (await page.textContent('#headline')) ?? '';
    expect(headline).toMatch(/saved \d+(\.\d+)?%/);
    const kinds = await page.locator('#layers tbody tr').evaluateAll((rows) => rows.map((row) => (row as HTMLElement).dataset.kind));
    expect(kinds).toContain('reuse');
    expect(kinds.some((kind) => kind === 'delta' || kind === 'literal')).toBe(true);
    expect(await page.getAttribute('#download-patch', 'href')).toMatch(/^blob:/);

    await page.click('#apply');
    if ((await firstVisible(page, ['#verify', '#error'])) === '#error') expect(await page.textContent('#error')).toBe('');
    expect(await page.getAttribute('#verdict', 'data-state')).toBe('match');
    expect(await page.getAttribute('#engine', 'data-hash-worker')).toBe('true');
    expect(await page.textContent('#verdict')).toMatch(/match/);
    expect(await page.textContent('#rebuilt-id')).toBe(NEW_ID);
    const newDigest = `sha256:${createHash('sha256').update(readFileSync(join(dir, 'small-new.tar'))).digest('hex')}`;
    expect(await page.textContent('#new-digest')).toBe(newDigest);
    expect(await page.textContent('#rebuilt-digest')).toBe(newDigest);

    const createMs = Number(await page.getAttribute('#time-create', 'data-ms'));
    const applyMs = Number(await page.getAttribute('#time-apply', 'data-ms'));
    const hashMs = Number(await page.getAttribute('#time-hash', 'data-ms'));
    const line = `small pair in Chromium: create ${createMs} ms, apply ${applyMs} ms, sha256 of new archive ${hashMs} ms; ${headline}`;
    console.log(line);
    writeFileSync(join(OUTPUT, 'web-small-timing.txt'), `${line}\n`);
    await page.screenshot({ path: join(OUTPUT, 'web-small.png'), fullPage: true });
    expect(pageErrors).toEqual([]);
  }, 2 * STEP_TIMEOUT + 30_000);

  it('makes the same patch on one core when the diff workers cannot start, or Workers do not exist', async () => {
    // The diff worker script missing: each module worker fails to load; the windows run on the page's worker.
    await page.route('**/diff-worker.js', (route) => route.fulfill({ status: 404, body: 'gone' }));
    try {
      expect((await createSmallInPage()).equals(smallCliPatch())).toBe(true);
    } finally {
      await page.unroute('**/diff-worker.js');
    }
    // No Worker constructor in the page's worker (browsers without nested workers).
    await page.route('**/worker.js', async (route) => {
      const response = await route.fetch();
      await route.fulfill({ response, body: `self.Worker = undefined;\n${await response.text()}` });
    });
    try {
      expect((await createSmallInPage()).equals(smallCliPatch())).toBe(true);
    } finally {
      await page.unroute('**/worker.js');
    }
    expect(await page.getAttribute('#engine', 'data-sha256')).toBe('core');
    expect(pageErrors).toEqual([]);
  }, 2 * STEP_TIMEOUT + 30_000);

  it('shows a one-line message for a file that is not an image', async () => {
    const textFile = join(dir, 'notes.txt');
    writeFileSync(textFile, 'this is not a docker save archive\n'.repeat(40));
    await page.goto(server.url);
    await page.setInputFiles('#old-file', textFile);
    await page.setInputFiles('#new-file', join(dir, 'small-new.tar'));
    await page.click('#create');
    expect(await firstVisible(page, ['#error', '#result'])).toBe('#error');
    const message = (await page.textContent('#error')) ?? '';
    expect(message).toMatch(/^Could not create the patch: old image notes\.txt: not a tar archive/);
    expect(message).not.toMatch(/internal error/);
    expect(message).not.toContain('\n');
    expect(await page.locator('#result').isVisible()).toBe(false);
    expect(await page.isEnabled('#create')).toBe(true);
    await page.screenshot({ path: join(OUTPUT, 'web-bad-file.png'), fullPage: true });

    // A tar that is not an image, as the new one.
    run('tar', ['-cf', join(dir, 'plain.tar'), '-C', dir, 'notes.txt'], 'making plain.tar');
    await page.setInputFiles('#old-file', join(dir, 'small-old.tar'));
    await page.setInputFiles('#new-file', join(dir, 'plain.tar'));
    await page.click('#create');
    expect(await firstVisible(page, ['#error', '#result'])).toBe('#error');
    expect(await page.textContent('#error')).toMatch(/^Could not create the patch: new image plain\.tar: not a docker save/);
  }, STEP_TIMEOUT + 30_000);

  it('applies a patch file to an old archive (the device side) and downloads the new archive', async () => {
    const patchFile = join(dir, 'small.patch');
    const chunks: Uint8Array[] = [];
    const [oldSource, newSource] = [await fileSource(join(dir, 'small-old.tar')), await fileSource(join(dir, 'small-new.tar'))];
    try {
      await createPatch(oldSource, newSource, (chunk) => void chunks.push(chunk.slice()), { hasher: nodeHasher, workers: 1 });
    } finally {
      await oldSource.close?.();
      await newSource.close?.();
    }
    writeFileSync(patchFile, Buffer.concat(chunks));

    await page.goto(server.url);
    expect(await page.isEnabled('#apply-files')).toBe(false);
    await page.setInputFiles('#device-old-file', join(dir, 'small-old.tar'));
    await page.setInputFiles('#device-patch-file', patchFile);
    await page.fill('#device-expect', NEW_ID.slice('sha256:'.length, 'sha256:'.length + 12));
    await page.click('#apply-files');
    if ((await firstVisible(page, ['#applied', '#error'])) === '#error') expect(await page.textContent('#error')).toBe('');
    expect(await page.textContent('#applied-id')).toBe(NEW_ID);
    expect(await page.textContent('#applied-verdict')).toMatch(/verified: the config hashes to the new image ID and 5 layers match their diff_ids/);
    const newBytes = readFileSync(join(dir, 'small-new.tar'));
    expect(await page.textContent('#applied-digest')).toBe(`sha256:${createHash('sha256').update(newBytes).digest('hex')}`);
    await page.screenshot({ path: join(OUTPUT, 'web-device.png'), fullPage: true });

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-applied')]);
    const saved = join(dir, 'downloaded.tar');
    await download.saveAs(saved);
    expect(download.suggestedFilename()).toBe(`${NEW_ID.slice(7, 19)}.tar`);
    expect(readFileSync(saved).equals(newBytes)).toBe(true);

    // A patch for another image: refused before any work, in one line.
    await page.fill('#device-expect', '0123456789ab');
    await page.click('#apply-files');
    expect(await firstVisible(page, ['#error', '#applied'])).toBe('#error');
    expect(await page.textContent('#error')).toMatch(/^Could not apply the patch: this patch makes sha256:ef00d944\S+, not 0123456789ab$/);
    // The old image's ID where the new one belongs: said to be swapped.
    await page.fill('#device-expect', '815ca3f24a1c');
    await page.click('#apply-files');
    await page.locator('#error', { hasText: 'swapped' }).waitFor({ timeout: 30_000 });
    expect(await page.textContent('#error')).toMatch(/^Could not apply the patch: NEW 815ca3f24a1c is the image this patch starts from.*OLD and NEW look swapped$/);
    expect(pageErrors).toEqual([]);
  }, STEP_TIMEOUT + 30_000);

  it('moves the progress bar within the first second on the nginx pair, and Cancel returns to idle', async () => {
    nginxDir = unpackPair(NGINX.file);
    await page.goto(server.url);
    await page.setInputFiles('#old-file', join(nginxDir, NGINX.old.name));
    await page.setInputFiles('#new-file', join(nginxDir, NGINX.new.name));
    // Timed inside the page: from the click to the first value > 0.
    const firstMoveMs = await page.evaluate(
      () =>
        new Promise<number>((done) => {
          const bar = document.getElementById('progress-bar') as HTMLProgressElement;
          const started = performance.now();
          (document.getElementById('create') as HTMLButtonElement).click();
          const timer = setInterval(() => {
            if (bar.hasAttribute('value') && bar.value > 0) {
              clearInterval(timer);
              done(performance.now() - started);
            }
          }, 10);
        }),
    );
    console.log(`nginx pair: progress bar above 0 after ${Math.round(firstMoveMs)} ms`);
    expect(firstMoveMs).toBeLessThan(1000);
    // Still busy a little later (create takes far longer than this), and the
    // bar moving in whichever early phase it is in by then: with the old
    // image read ahead in blocks, indexing may be over and planning just
    // starting (its bar restarts at 0) or diffing.
    await page.waitForTimeout(1500);
    expect(await page.isVisible('#status')).toBe(true);
    await page.waitForFunction(() => Number(document.getElementById('progress-bar')?.getAttribute('value')) > 0, null, { timeout: 10_000, polling: 50 });
    expect(await page.textContent('#progress-text')).toMatch(/^(Indexing the old image|Reading the old image|Planning|Diffing)/);
    await page.screenshot({ path: join(OUTPUT, 'web-progress.png'), fullPage: true });

    await page.click('#cancel');
    expect(await page.isVisible('#status')).toBe(false);
    expect(await page.textContent('#notice')).toBe('Cancelled: nothing was kept.');
    expect(await page.isEnabled('#create')).toBe(true);
    // No late result from the cancelled work: nothing to download, no error.
    await page.waitForTimeout(1000);
    expect(await page.isVisible('#result')).toBe(false);
    expect(await page.isVisible('#error')).toBe(false);
    expect(await page.getAttribute('#download-patch', 'href')).toBeNull();

    // The page works again after a cancel: a fresh worker makes the small pair's patch.
    await page.setInputFiles('#old-file', join(dir, 'small-old.tar'));
    await page.setInputFiles('#new-file', join(dir, 'small-new.tar'));
    await page.click('#create');
    if ((await firstVisible(page, ['#result', '#error'])) === '#error') expect(await page.textContent('#error')).toBe('');
    expect(await page.isVisible('#notice')).toBe(false);
    expect(pageErrors).toEqual([]);
  }, STEP_TIMEOUT + 60_000);
});
