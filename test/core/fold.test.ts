/** foldShortMatches: the folded delta still rebuilds the same bytes, with no more triples. */
import { describe, expect, it } from 'vitest';
import { foldShortMatches, loadCore } from '../../src/core/index.js';
import { checkDelta } from '../../src/format/ctrl.js';

/** Prose-like text from a seeded generator, and an edit of it: lines inserted, changed, dropped. */
function texts(seed: number): [Uint8Array, Uint8Array] {
  let s = seed;
  const next = () => (s = (s * 1103515245 + 12345) >>> 0) >>> 8;
  const words = ['alpha', 'beta', 'gamma', 'delta', 'fix', 'bug', 'CVE-2025-', 'release', 'memory'];
  const line = () => Array.from({ length: 3 + (next() % 6) }, () => words[next() % words.length] + (next() % 50)).join(' ');
  const old = Array.from({ length: 2000 }, line);
  const neu: string[] = [];
  for (const l of old) {
    const r = next() % 20;
    if (r === 0) neu.push(line(), l);
    else if (r === 1) neu.push(l.replace(/\d+/, '7'));
    else if (r !== 2) neu.push(l);
  }
  const enc = new TextEncoder();
  return [enc.encode(old.join('\n')), enc.encode(neu.join('\n'))];
}

describe('foldShortMatches', () => {
  it.each([1, 2, 3])('rebuilds the same bytes at every threshold (seed %i)', async (seed) => {
    const core = await loadCore();
    const [old, neu] = texts(seed);
    const delta = core.diff(old, neu);
    for (const min of [0, 1, 8, 32, 1000, 1 << 30]) {
      const folded = foldShortMatches(old, delta, min);
      checkDelta(folded, old.length, neu.length);
      expect(folded.ctrl.length).toBeLessThanOrEqual(delta.ctrl.length);
      expect(core.patch(old, folded, neu.length)).toEqual(neu);
    }
    // A threshold above every match leaves one triple: all literal after the first match.
    expect(foldShortMatches(old, delta, 1 << 30).ctrl.length).toBe(3);
  });

  it('an empty delta stays empty', () => {
    const folded = foldShortMatches(new Uint8Array(0), { ctrl: new Int32Array(0), diff: new Uint8Array(0), extra: new Uint8Array(0) }, 32);
    expect(folded.ctrl.length).toBe(0);
  });
});
