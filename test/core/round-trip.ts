// A delta made by the core and checked by applying it: every new byte is
// accounted for (diff + extra) and the patch gives NEW back exactly.
import { expect } from 'vitest';
import type { Delta, DiffCore } from '../../src/core/index.js';

export function roundTrip(core: DiffCore, old: Uint8Array, neu: Uint8Array): Delta {
  const delta = core.diff(old, neu);
  expect(delta.diff.length + delta.extra.length).toBe(neu.length);
  expect(Buffer.compare(core.patch(old, delta, neu.length), neu)).toBe(0);
  return delta;
}
