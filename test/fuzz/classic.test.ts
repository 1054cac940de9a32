/**
 * The fuzz suite's share of `npm test` for the classic format (image.test.ts,
 * raw.test.ts, classic.test.ts: a few thousand mutated, field-edited and
 * forged patches of real inputs in all) (seeds fixed,
 * so a failure here reproduces with `npm run fuzz -- --format F --seed S
 * --cases 1`). Every case must end in a clean PatcherError or the real
 * output (see oracle.ts); `npm run fuzz` runs any number of them.
 */
import { describe, expect, it } from 'vitest';
import { runCases, type Tally } from './runner.js';

const CASES = { classic: 800 };
/** Seeds apart from the script's default start (1), so the two cover different cases. */
const FIRST_SEED = 1_000_001;

function summary(t: Tally): string {
  const failures = t.failures.slice(0, 10).map((f) => `seed ${f.seed} ${f.outcome}: ${f.what}: ${f.detail}`);
  return `${JSON.stringify(t.counts)}\n${failures.join('\n')}`;
}

describe('fuzz', () => {
  it(`classic: ${CASES.classic} cases; a wrong output only without --expect-sha256`, async () => {
    const t = await runCases('classic', FIRST_SEED, CASES.classic);
    console.log(`classic fuzz: ${JSON.stringify(t.counts)}`);
    // fail:wrong-output counts a wrong NEW accepted with --expect-sha256: none.
    expect(t.failures, summary(t)).toEqual([]);
    for (const outcome of ['error:BAD_PATCH', 'identical', 'wrong-output-unanchored']) {
      expect(t.counts[outcome] ?? 0, `${outcome}: ${JSON.stringify(t.counts)}`).toBeGreaterThan(0);
    }
  }, 600_000);
});
