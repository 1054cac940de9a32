// Peak WASM memory held to the budgets the modules state (src/core/wasm.ts,
// assembly/*): each measurement runs on a fresh core, whose memory never
// shrinks, so memoryBytes() afterwards is the call's peak.
import { deflateRawSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { loadCore } from '../../src/core/index.js';
import { editBytes, randomBytes } from '../../src/image/sample.js';
import { textBytes } from './deflate-streams.js';

const MiB = 1 << 20;

/** A fresh core and its starting size (static data: tables, stack). */
async function freshCore() {
  const core = await loadCore();
  return { core, base: core.memoryBytes() };
}

describe('peak WASM memory within the stated budgets', () => {
  // diff: "old n + SA 4n + new m + extra m + 256 KiB prefix table +
  // 192 KiB of control chunk, plus SA-IS scratch: n/8 + 2 KiB => 5.2n + 2m
  // (at worst 6.4n + 2m, when every LMS substring repeats)": the diff bytes
  // are written over new.
  const inputs: [string, (n: number, seed: number) => Uint8Array][] = [
    ['text', textBytes],
    // Incompressible data, most layer bytes: nearly every LMS substring is
    // unique, so the reduced problem is small (it once took 7.8n).
    ['random', randomBytes],
  ];
  for (const [label, make] of inputs) {
    for (const [n, m] of [[256 * 1024, 256 * 1024], [3 * MiB, 1 * MiB], [1 * MiB, 4 * MiB], [6 * MiB, 6 * MiB]]) {
      it(`diff of ${n} -> ${m} bytes of ${label} stays within 5.2n + 2m + 2 MiB`, async () => {
        const old = make(n, n + 1);
        const neu = editBytes(m === n ? old : make(m, m + 3), 5);
        const { core, base } = await freshCore();
        core.diff(old, neu);
        expect(core.memoryBytes() - base).toBeLessThanOrEqual(5.2 * n + 2 * neu.length + 2 * MiB);
        expect(core.memoryBytes() - base).toBeGreaterThan(5 * n); // the budget is not slack either
      });
    }
  }

  // The worst case the module states: a random half written twice repeats
  // every LMS substring, at every level of the recursion.
  it('diff of a 6 MiB random half written twice stays within 6.4n + 2m + 2 MiB', async () => {
    const n = 6 * MiB;
    const half = randomBytes(n / 2, 77);
    const old = new Uint8Array(n);
    old.set(half, 0);
    old.set(half, n / 2);
    const neu = editBytes(old, 5);
    const { core, base } = await freshCore();
    core.diff(old, neu);
    const used = core.memoryBytes() - base;
    expect(used).toBeLessThanOrEqual(6.4 * n + 2 * neu.length + 2 * MiB);
    expect(used).toBeGreaterThan(5.2 * n + 2 * neu.length); // the case is the bad one it claims to be
  });

  it('patch stays within old n + ctrl + diff + extra + one output chunk (+ 64 KiB)', async () => {
    const old = randomBytes(4 * MiB, 11);
    const neu = editBytes(old, 12);
    const delta = (await loadCore()).diff(old, neu);
    const { core, base } = await freshCore();
    const chunk = 1 << 20;
    let size = 0;
    for (const piece of core.patchChunks(old, delta, neu.length, chunk)) size += piece.length;
    expect(size).toBe(neu.length);
    const stated = old.length + delta.ctrl.byteLength + delta.diff.length + delta.extra.length + chunk;
    expect(core.memoryBytes() - base).toBeLessThanOrEqual(stated + 64 * 1024);
  });

  // inflateExact/gunzipExact: "n + text + structure, capacities at most 2x
  // each part (or the first guess: 4n or ISIZE for text, 1.25n for structure)".
  for (const [label, size] of [['text', 200_000], ['text', 3 * MiB], ['random', MiB]] as const) {
    it(`exact deflate of ${size} bytes of ${label} stays within its budget`, async () => {
      const input = label === 'text' ? textBytes(size, 3) : randomBytes(size, 3);
      for (const gzip of [false, true]) {
        const bytes = gzip ? gzipSync(input, { level: 9 }) : deflateRawSync(input, { level: 9 });
        const { core, base } = await freshCore();
        const form = gzip ? core.gunzipExact(bytes, { maxOutput: 64 * MiB, maxStructure: 64 * MiB })
          : core.inflateExact(bytes, { maxOutput: 64 * MiB, maxStructure: 64 * MiB });
        const n = bytes.length;
        const textCap = Math.max(4 * n, gzip ? size + 1024 : 0, 65536, 2 * form.text.length);
        const structCap = Math.max(n + (n >> 2), 4096, 2 * form.structure.length);
        expect(core.memoryBytes() - base).toBeLessThanOrEqual(n + textCap + structCap + 128 * 1024);
        // encode: "text t + structure s + output (first guess the hint, then at most 2x)"
        const { core: enc, base: encBase } = await freshCore();
        const out = gzip ? enc.gzipExact(form, n) : enc.deflateExact(form, n);
        expect(out.length).toBe(n);
        expect(enc.memoryBytes() - encBase).toBeLessThanOrEqual(form.text.length + form.structure.length + n + 128 * 1024);
      }
    });
  }

  it('a decode never passes input + maxOutput + maxStructure, whatever the data', async () => {
    const bytes = deflateRawSync(Buffer.alloc(32 * MiB));
    const { core, base } = await freshCore();
    expect(() => core.inflateExact(bytes, { maxOutput: 2 * MiB, maxStructure: MiB })).toThrow(/budget/);
    expect(core.memoryBytes() - base).toBeLessThanOrEqual(bytes.length + 3 * MiB + 128 * 1024);
  });
});
