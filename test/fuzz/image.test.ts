/**
 * The fuzz suite's share of `npm test` for the image format (image.test.ts,
 * raw.test.ts, classic.test.ts: a few thousand mutated, field-edited and
 * forged patches of real inputs in all) (seeds fixed,
 * so a failure here reproduces with `npm run fuzz -- --format F --seed S
 * --cases 1`). Every case must end in a clean PatcherError or the real
 * output (see oracle.ts); `npm run fuzz` runs any number of them.
 */
import { describe, expect, it } from 'vitest';
import { runCases, type Tally } from './runner.js';

const CASES = { image: 300 };
/** Seeds apart from the script's default start (1), so the two cover different cases. */
const FIRST_SEED = 1_000_001;

function summary(t: Tally): string {
  const failures = t.failures.slice(0, 10).map((f) => `seed ${f.seed} ${f.outcome}: ${f.what}: ${f.detail}`);
  return `${JSON.stringify(t.counts)}\n${failures.join('\n')}`;
}

describe('fuzz', () => {
  it(`image: ${CASES.image} cases, each refused cleanly or rebuilt as NEW`, async () => {
    const t = await runCases('image', FIRST_SEED, CASES.image);
    console.log(`image fuzz: ${JSON.stringify(t.counts)}`);
    expect(t.failures, summary(t)).toEqual([]);
    expect(t.cases).toBe(CASES.image);
    // The mutators reach past the frame checks: forged content is refused by digest, and sound re-encodings rebuild NEW.
    for (const outcome of ['error:BAD_PATCH', 'error:DIGEST_MISMATCH', 'identical', 'same-image-different-bytes']) {
      expect(t.counts[outcome] ?? 0, `${outcome}: ${JSON.stringify(t.counts)}`).toBeGreaterThan(0);
    }
  }, 600_000);
});
