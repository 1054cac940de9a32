/**
 * The public library API takes the shapes users have, and a sink may keep
 * what it is given: chunks kept and concatenated later, a Node Writable fed
 * with the drain idiom or passed as it is, a WHATWG WritableStream, a file
 * path helper; patches as bytes, ReadableStream or Node Readable; sha256
 * defaulting per platform.
 */
import { once } from 'node:events';
import { createWriteStream, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as neutral from '../../src/index.js';
import * as nodeEntry from '../../src/index.node.js';
import { applyPatch, createPatch, fileSink, inspectPatch } from '../../src/node.js';
import { memorySource } from '../../src/image/source.js';
import { nodeHasher } from '../../src/image/source.node.js';
import { buildDockerArchive, samplePair } from '../fixtures/images.js';
import { NGINX, unpackPair } from '../fixtures/shared.js';
import { concat, expectSameBytes } from '../delta/util.js';

const tmp = mkdtempSync(join(tmpdir(), 'dp-lib-sinks-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A function sink that keeps every chunk, untouched, to concatenate at the end. */
function keeper(): { sink: (c: Uint8Array) => void; bytes: () => Uint8Array } {
  const kept: Uint8Array[] = [];
  return { sink: (c) => void kept.push(c), bytes: () => concat(kept) };
}

async function* pieces(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}

describe('sample pair', () => {
  let old: Uint8Array;
  let neu: Uint8Array;
  let patch: Uint8Array;
  beforeAll(async () => {
    const pair = samplePair();
    [old, neu] = [await buildDockerArchive(pair.old), await buildDockerArchive(pair.new)];
    const keep = keeper();
    await createPatch(old, neu, keep.sink, { windowSize: 64 * 1024, workers: 1 });
    patch = keep.bytes();
  });

  it('a sink that keeps every chunk gets the archive byte for byte (create and apply)', async () => {
    const again = keeper();
    const summary = await createPatch(memorySource(old), memorySource(neu), again.sink, { windowSize: 64 * 1024, workers: 1, hasher: nodeHasher });
    expectSameBytes(again.bytes(), patch);
    expect(summary.patchSize).toBe(patch.length);
    const out = keeper();
    const result = await applyPatch(memorySource(old), pieces(patch, 4099), out.sink, { hasher: nodeHasher });
    expectSameBytes(out.bytes(), neu);
    expect(result.bytesWritten).toBe(neu.length);
  });

  it('a WHATWG WritableStream, with a patch given as a ReadableStream', async () => {
    const kept: Uint8Array[] = [];
    let closed = false;
    const sink = new WritableStream<Uint8Array>({ write: (c) => void kept.push(c), close: () => void (closed = true) }, { highWaterMark: 2 });
    const stream = Readable.toWeb(Readable.from(pieces(patch, 321))) as ReadableStream<Uint8Array>;
    await applyPatch(old, stream, sink);
    expect(closed).toBe(true);
    expectSameBytes(concat(kept), neu);
  });

  it('a Node Writable passed as the sink, with the patch as one Uint8Array, is ended on success', async () => {
    const path = join(tmp, 'writable.tar');
    const ws = createWriteStream(path, { highWaterMark: 1024 });
    await applyPatch(old, patch, ws);
    expect(ws.writableFinished).toBe(true);
    expectSameBytes(readFileSync(path), neu);
  });

  it('a Node Readable as the patch; fileSink writes the file and leaves no temporary', async () => {
    const dir = mkdtempSync(join(tmp, 'file-'));
    writeFileSync(join(dir, 'p.patch'), patch);
    const { createReadStream } = await import('node:fs');
    await applyPatch(old, createReadStream(join(dir, 'p.patch'), { highWaterMark: 1000 }), fileSink(join(dir, 'new.tar')));
    expectSameBytes(readFileSync(join(dir, 'new.tar')), neu);
    expect(readdirSync(dir).sort()).toEqual(['new.tar', 'p.patch']);
  });

  it('paths in Node: images, patch and output by name', async () => {
    const dir = mkdtempSync(join(tmp, 'paths-'));
    writeFileSync(join(dir, 'old.tar'), old);
    writeFileSync(join(dir, 'new.tar'), neu);
    await createPatch(join(dir, 'old.tar'), join(dir, 'new.tar'), fileSink(join(dir, 'p.patch')), { workers: 1 });
    expect((await inspectPatch(join(dir, 'p.patch'))).newArchiveSize).toBe(neu.length);
    await applyPatch(join(dir, 'old.tar'), join(dir, 'p.patch'), fileSink(join(dir, 'out.tar')));
    expectSameBytes(readFileSync(join(dir, 'out.tar')), neu);
  });

  it('a failed apply leaves nothing at a fileSink path, and an existing file untouched', async () => {
    const dir = mkdtempSync(join(tmp, 'fail-'));
    writeFileSync(join(dir, 'out.tar'), 'before');
    const bad = patch.slice();
    bad[bad.length - 10] ^= 0xff;
    await expect(applyPatch(old, bad, fileSink(join(dir, 'out.tar')))).rejects.toMatchObject({ name: 'PatcherError', code: 'BAD_PATCH' });
    expect(readdirSync(dir)).toEqual(['out.tar']);
    expect(readFileSync(join(dir, 'out.tar'), 'utf8')).toBe('before');
    await expect(applyPatch(old, patch, fileSink(join(dir, 'no-such-dir', 'x.tar')))).rejects.toMatchObject({ code: 'IO', message: expect.stringMatching(/^cannot create output '.*x.tar': directory '.*no-such-dir' does not exist$/) });
    await expect(applyPatch(old, patch, fileSink(dir))).rejects.toMatchObject({ code: 'IO', message: expect.stringMatching(/is a directory$/) });
  });

  it("the hasher can be left out: node:crypto from the Node entries, the core's sha256 from the neutral one", async () => {
    for (const api of [nodeEntry, neutral]) {
      const created = keeper();
      await api.createPatch(old, neu, created.sink, { windowSize: 64 * 1024, workers: 1 });
      expectSameBytes(created.bytes(), patch);
      const out = keeper();
      await api.applyPatch(old, created.bytes(), out.sink);
      expectSameBytes(out.bytes(), neu);
    }
  });

  it('refuses a sink or a patch of another shape with a one-line usage error', async () => {
    await expect(applyPatch(old, patch, {} as never)).rejects.toMatchObject({ code: 'USAGE' });
    await expect(applyPatch(old, 42 as never, () => {})).rejects.toMatchObject({ code: 'USAGE' });
  });
});

describe('nginx pair', () => {
  let dir: string;
  let patch: Uint8Array;
  beforeAll(async () => {
    dir = unpackPair(NGINX.file);
    const keep = keeper();
    await createPatch(join(dir, NGINX.old.name), join(dir, NGINX.new.name), keep.sink);
    patch = keep.bytes();
  }, 300_000);
  afterAll(() => dir && rmSync(dir, { recursive: true, force: true }));

  it('a sink that keeps every chunk gets the archive byte for byte', async () => {
    const out = keeper();
    await applyPatch(join(dir, NGINX.old.name), patch, out.sink);
    expectSameBytes(out.bytes(), readFileSync(join(dir, NGINX.new.name)));
  }, 300_000);

  it('an fs.WriteStream fed with `if (!ws.write(c)) await once(ws, "drain")` gets the archive byte for byte', async () => {
    const path = join(dir, 'drain.tar');
    const ws = createWriteStream(path);
    await applyPatch(join(dir, NGINX.old.name), patch, async (c) => {
      if (!ws.write(c)) await once(ws, 'drain');
    });
    ws.end();
    await once(ws, 'close');
    expect(existsSync(path)).toBe(true);
    expectSameBytes(readFileSync(path), readFileSync(join(dir, NGINX.new.name)));
  }, 300_000);
});
