/**
 * File I/O for the CLI: whole-file reads (bsdiff needs both inputs in
 * memory), `-` for stdin/stdout, and outputs written to a temporary name in
 * the target's directory and renamed into place only once verified.
 */
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { unlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ErrorCode, PatcherError } from '../errors.js';

const REASONS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EISDIR: 'is a directory',
  ENOTDIR: 'a path component is not a directory',
  ENOSPC: 'no space left on device',
  EROFS: 'read-only file system',
  EEXIST: 'already exists',
};

/** Turn a Node fs error into a one-line IO PatcherError. */
export function ioError(action: string, label: string, path: string, err: unknown): PatcherError {
  const code = (err as NodeJS.ErrnoException)?.code ?? '';
  const reason = REASONS[code] ?? (err instanceof Error ? err.message.split('\n')[0] : String(err));
  return new PatcherError(ErrorCode.Io, `cannot ${action} ${label} '${path}': ${reason}`, { cause: err });
}

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

/** Write all of `data` to stdout, resolving once it is handed to the OS. */
export function writeStdout(data: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => process.stdout.write(data, (err) => (err ? reject(err) : resolve())));
}

/** Temp files not yet committed, removed on Ctrl-C (see main.ts). */
const pending = new Set<string>();

export function removePendingOutputs(): void {
  for (const path of pending) {
    try {
      unlinkSync(path);
    } catch {
      // Already gone: nothing to clean.
    }
  }
  pending.clear();
}

/**
 * An output file that appears at `target` only on commit(): bytes go to a
 * hidden temp file next to it (same file system, so rename is atomic).
 */
export class AtomicOutput {
  readonly tempPath: string;
  #handle: FileHandle | undefined;
  bytesWritten = 0;

  private constructor(
    readonly target: string,
    readonly label: string,
  ) {
    this.tempPath = join(dirname(target), `.${basename(target)}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
  }

  static async create(target: string, label: string): Promise<AtomicOutput> {
    const out = new AtomicOutput(target, label);
    try {
      out.#handle = await open(out.tempPath, 'wx', 0o644);
    } catch (err) {
      throw ioError('create', label, target, err);
    }
    pending.add(out.tempPath);
    return out;
  }

  /** Append `data`; awaiting each write is the backpressure. */
  async write(data: Uint8Array): Promise<void> {
    try {
      let offset = 0;
      while (offset < data.length) {
        const { bytesWritten } = await this.#handle!.write(data, offset, data.length - offset);
        offset += bytesWritten;
      }
      this.bytesWritten += data.length;
    } catch (err) {
      throw ioError('write', this.label, this.target, err);
    }
  }

  /** Flush, close and rename into place. */
  async commit(): Promise<void> {
    try {
      await this.#handle!.sync();
      await this.#handle!.close();
      this.#handle = undefined;
      await rename(this.tempPath, this.target);
      pending.delete(this.tempPath);
    } catch (err) {
      await this.abort();
      throw ioError('write', this.label, this.target, err);
    }
  }

  /** Close and remove the temp file; nothing appears at the target. Never throws. */
  async abort(): Promise<void> {
    await this.#handle?.close().catch(() => undefined);
    this.#handle = undefined;
    await unlink(this.tempPath).catch(() => undefined);
    pending.delete(this.tempPath);
  }
}
