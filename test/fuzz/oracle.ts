/**
 * The fuzz oracle: every case ends in a clean PatcherError or in the real
 * output, byte for byte. Anything else is a failure, by kind.
 *
 * Outcomes (a string each, counted by the runner):
 *   error:CODE                  a PatcherError with a known code and a clean one-line message
 *   identical                   the output is the real NEW, byte for byte
 *   wrong-output-unanchored     success with a wrong output, no expected digest given
 *                               (a classic patch, or a forgery whose own digests agree),
 *                               and refused once the expected digest is given: allowed
 *   same-image-different-bytes  image only: another archive of the same image (config
 *                               digest NEW, every layer matching its diff_id, same tags)
 *   same-image-other-tags       image only: the same, but the archive names other tags
 *                               (manifest.json RepoTags), which docker load applies
 *   fail:crash                  not a PatcherError (TypeError, RangeError, ...)
 *   fail:message                a PatcherError whose message is empty, multi-line or
 *                               leaks undefined / [object Object] / NaN, or an unknown code
 *   fail:wrong-output           success with a wrong output that even the expected digest
 *                               (NEW, --expect-sha256) did not stop
 *   fail:hang / fail:rss        (script only) over the per-case time limit / RSS watch
 */
import { ErrorCode, PatcherError } from '../../src/errors.js';

export type Outcome = string;

export interface CaseResult {
  outcome: Outcome;
  /** What was done to the patch (for reproducing by eye). */
  what: string;
  /** The error message, or what differed. */
  detail?: string;
}

const CODES = new Set<string>(Object.values(ErrorCode));
const BAD_MESSAGE = /\n|undefined|\[object Object\]|NaN/;

export const isFailure = (outcome: Outcome): boolean => outcome.startsWith('fail:');

/** Classify a thrown value. */
export function classifyError(err: unknown): { outcome: Outcome; detail: string } {
  if (!(err instanceof PatcherError)) {
    const e = err as Error;
    return { outcome: 'fail:crash', detail: `${e?.name ?? typeof err}: ${String(e?.message ?? err).split('\n')[0]}` };
  }
  if (!CODES.has(err.code) || err.message.length === 0 || BAD_MESSAGE.test(err.message)) {
    return { outcome: 'fail:message', detail: `${err.code}: ${JSON.stringify(err.message)}` };
  }
  return { outcome: `error:${err.code}`, detail: err.message };
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));
}

/** First differing offset, for details. */
export function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

/** Run `work` with a time limit for async hangs (a synchronous loop is caught only by the script's child processes). */
export async function withTimeLimit<T>(ms: number, work: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new HangError(ms)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export class HangError extends Error {
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
  }
}
