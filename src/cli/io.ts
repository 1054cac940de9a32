/**
 * Input side of the CLI's file I/O: whole-file reads (bsdiff needs both
 * inputs in memory), `-` for stdin, and the one translation of Node fs
 * errors into one-line messages (io/fs-errors.ts). Outputs are in output.ts
 * and io/output-file.ts.
 */
import { open, readFile, stat, type FileHandle } from 'node:fs/promises';
import { ErrorCode, PatcherError } from '../errors.js';
import { ioError } from '../io/fs-errors.js';

export { ioError };

export function usageError(message: string): PatcherError {
  return new PatcherError(ErrorCode.Usage, message);
}

/** Refuse more than one `-` among the inputs (there is only one stdin). */
export function checkOneStdin(paths: Record<string, string>): void {
  const dashes = Object.entries(paths).filter(([, p]) => p === '-');
  if (dashes.length > 1) throw usageError(`only one input can be '-' (stdin), got ${dashes.map(([l]) => l).join(' and ')}`);
}

/** Read a whole input; `-` reads stdin to its end. */
export async function readInput(path: string, label: string): Promise<Uint8Array> {
  if (path === '-') {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return new Uint8Array(Buffer.concat(chunks));
  }
  try {
    return new Uint8Array(await readFile(path));
  } catch (err) {
    throw ioError('read', label, path, err);
  }
}

/** Size of an input file (one-line IO error if it cannot be read). */
export async function fileSize(path: string, label: string): Promise<number> {
  try {
    const info = await stat(path);
    if (info.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    return info.size;
  } catch (err) {
    throw ioError('read', label, path, err);
  }
}

/** Fill `target` with the whole file at `path` (its size must be target.length). */
export async function readInto(path: string, label: string, target: Uint8Array): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(path, 'r');
    for (let done = 0; done < target.length; ) {
      const { bytesRead } = await handle.read(target, done, target.length - done, done);
      if (bytesRead === 0) throw new Error('file shrank while reading');
      done += bytesRead;
    }
  } catch (err) {
    throw ioError('read', label, path, err);
  } finally {
    await handle?.close();
  }
}
