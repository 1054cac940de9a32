/**
 * One error type for the whole tool. Every failure a user can cause (bad input,
 * a corrupt patch, a daemon that says no) is a PatcherError with a stable
 * string `code` and a message that fits on one CLI line. The CLI maps `code`
 * to an exit status and prints the stack only with --debug.
 */

export const ErrorCode = {
  /** Wrong command-line usage or an invalid option value. */
  Usage: 'USAGE',
  /** A file could not be read or written (missing, permissions, disk full). */
  Io: 'IO',
  /** An input archive is not a tar, is truncated, or is not an image. */
  BadImage: 'BAD_IMAGE',
  /** A patch is truncated, corrupt, of an unknown format or version. */
  BadPatch: 'BAD_PATCH',
  /** The patch was made from another old image, or NEW does not match. */
  WrongImage: 'WRONG_IMAGE',
  /** A rebuilt blob's sha256 differs from the one the patch promised. */
  DigestMismatch: 'DIGEST_MISMATCH',
  /** The Docker Engine API could not be reached or answered with an error. */
  Docker: 'DOCKER',
  /** The requested image does not exist (in the daemon or the archive). */
  NotFound: 'NOT_FOUND',
  /** The WASM core ran out of memory or reported an internal failure. */
  Core: 'CORE',
  /** A registry could not be reached, refused the credentials, or answered with an error. */
  Registry: 'REGISTRY',
  /** The user interrupted the run (Ctrl-C). */
  Interrupted: 'INTERRUPTED',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Exit status the CLI uses for each code (0 = success, 1 = unexpected bug). */
export const exitStatus: Record<ErrorCode, number> = {
  USAGE: 2,
  IO: 3,
  BAD_IMAGE: 4,
  BAD_PATCH: 5,
  WRONG_IMAGE: 6,
  DIGEST_MISMATCH: 7,
  DOCKER: 8,
  NOT_FOUND: 9,
  CORE: 10,
  REGISTRY: 11,
  INTERRUPTED: 130,
};

export class PatcherError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PatcherError';
    this.code = code;
  }
}

/** Shorthand for the common "this input is corrupt" case. */
export function badPatch(message: string): PatcherError {
  return new PatcherError(ErrorCode.BadPatch, `patch corrupt: ${message}`);
}

export function badImage(message: string): PatcherError {
  return new PatcherError(ErrorCode.BadImage, message);
}

/** Run `work`; a PatcherError it throws gets `what: ` in front of its message (e.g. which input was bad). */
export async function naming<T>(what: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof PatcherError) throw new PatcherError(err.code, `${what}: ${err.message}`, { cause: err });
    throw err;
  }
}
