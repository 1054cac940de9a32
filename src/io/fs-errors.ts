/**
 * The one translation of Node fs errors into one-line messages, for every
 * file the CLI and the Node library read or write.
 */
import { ErrorCode, PatcherError } from '../errors.js';

const REASONS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'is a directory',
  ENOTDIR: 'a path component is not a directory',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
  EEXIST: 'already exists',
  ELOOP: 'too many levels of symbolic links',
  EINVAL: 'not a regular file, device or FIFO',
  EPIPE: 'broken pipe',
};

/** `cannot <action> <subject>: <reason>` as an IO PatcherError; PatcherErrors pass through. */
export function fileError(action: string, subject: string, err: unknown): PatcherError {
  if (err instanceof PatcherError) return err;
  const code = (err as NodeJS.ErrnoException)?.code ?? '';
  const reason = REASONS[code] ?? (err instanceof Error ? err.message.split('\n')[0] : String(err));
  return new PatcherError(ErrorCode.Io, `cannot ${action} ${subject}: ${reason}`, { cause: err });
}

/** The CLI's form: `cannot <action> <LABEL> '<path>': <reason>`. */
export function ioError(action: string, label: string, path: string, err: unknown): PatcherError {
  return fileError(action, `${label} '${path}'`, err);
}
