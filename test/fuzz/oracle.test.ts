/** The fuzz suite's own parts: the oracle tells failures from clean refusals, and cases are pure functions of their seeds. */
import { describe, expect, it } from 'vitest';
import { PatcherError } from '../../src/errors.js';
import { BYTE_MUTATORS, mutateBytes } from './mutators.js';
import { classifyError, withTimeLimit, HangError } from './oracle.js';
import { Rng } from './rng.js';
import { loadSingleInputs, makeSingleCase } from './single.js';

describe('oracle', () => {
  it('a PatcherError with a known code and a clean line is a refusal', () => {
    expect(classifyError(new PatcherError('BAD_PATCH', 'patch corrupt: frame 3 checksum mismatch')).outcome).toBe('error:BAD_PATCH');
  });

  it('anything else is a failure', () => {
    expect(classifyError(new TypeError("Cannot read properties of null (reading 'x')")).outcome).toBe('fail:crash');
    expect(classifyError(new RangeError('Invalid array length')).outcome).toBe('fail:crash');
    expect(classifyError('a string').outcome).toBe('fail:crash');
    for (const message of ['patch promised undefined', 'header says [object Object]', 'size NaN', 'two\nlines', '']) {
      expect(classifyError(new PatcherError('BAD_PATCH', message)).outcome, message).toBe('fail:message');
    }
    expect(classifyError(new PatcherError('NO_SUCH_CODE' as 'BAD_PATCH', 'fine words')).outcome).toBe('fail:message');
  });

  it('a case over its time limit is a hang', async () => {
    await expect(withTimeLimit(20, () => new Promise(() => undefined))).rejects.toBeInstanceOf(HangError);
  });
});

describe('mutators and cases', () => {
  it('every byte mutator changes its input and is deterministic', () => {
    const base = new Rng(1).bytes(20_000);
    for (const [name, m] of Object.entries(BYTE_MUTATORS)) {
      let changed = 0;
      for (let seed = 1; seed <= 20; seed++) {
        const a = m(new Rng(seed), base, [100]);
        const b = m(new Rng(seed), base, [100]);
        expect(Buffer.from(a.bytes).equals(Buffer.from(b.bytes)), name).toBe(true);
        if (!Buffer.from(a.bytes).equals(Buffer.from(base))) changed++;
      }
      expect(changed, name).toBeGreaterThanOrEqual(18);
    }
    expect(mutateBytes(new Rng(5), base).what).toBe(mutateBytes(new Rng(5), base).what);
  });

  it('a single-file case is the same patch for the same seed', async () => {
    for (const format of ['raw', 'classic'] as const) {
      const inputs = await loadSingleInputs(format);
      for (const seed of [1, 2, 3, 77]) {
        const [a, b] = [makeSingleCase(inputs, seed), makeSingleCase(inputs, seed)];
        expect(a.what).toBe(b.what);
        expect(Buffer.from(a.patch).equals(Buffer.from(b.patch))).toBe(true);
      }
    }
  });
});
