/**
 * fileSink(path): a WritableStream that writes a file only if the run
 * succeeds. Bytes go to a hidden temporary file beside the target, renamed
 * over it on close(); abort() (any failure or an AbortSignal) removes it,
 * so a failed run leaves no output and the old file, if any, untouched.
 * A symlink is followed (its target is replaced); a character device or a
 * FIFO (/dev/null, a named pipe) is written directly, as it cannot be
 * renamed over. Node only.
 */
import { randomBytes } from 'node:crypto';
import { open, realpath, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ErrorCode, PatcherError } from '../errors.js';

function writeError(path: string, err: unknown): PatcherError {
  if (err instanceof PatcherError) return err;
  const code = (err as NodeJS.ErrnoException)?.code;
  const reason = code === 'ENOENT' ? 'no such directory' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'ENOSPC' ? 'no space left on device' : code ?? String(err);
  return new PatcherError(ErrorCode.Io, `cannot write ${path}: ${reason}`, { cause: err });
}

/** Where to write: [final path, temporary path or undefined to write in place]. Checked before any work. */
async function plan(path: string): Promise<[string, string | undefined]> {
  const info = await stat(path).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? undefined : Promise.reject(err)));
  if (info?.isDirectory()) throw new PatcherError(ErrorCode.Io, `cannot write ${path}: is a directory`);
  if (info && !info.isFile()) return [path, undefined];
  const target = info ? await realpath(path) : path;
  return [target, join(dirname(target), `.${basename(target)}.${process.pid}-${randomBytes(4).toString('hex')}.dp-partial`)];
}

/** A sink that writes `path` atomically: see the module comment. */
export function fileSink(path: string): WritableStream<Uint8Array> {
  let handle: FileHandle | undefined;
  let target = path;
  let temp: string | undefined;
  const discard = async () => {
    await handle?.close().catch(() => undefined);
    handle = undefined;
    if (temp) await rm(temp, { force: true });
  };
  return new WritableStream<Uint8Array>({
    async start() {
      try {
        [target, temp] = await plan(path);
        handle = await open(temp ?? target, temp ? 'wx' : 'w', 0o644);
      } catch (err) {
        throw writeError(path, err);
      }
    },
    async write(chunk) {
      try {
        for (let at = 0; at < chunk.length; ) at += (await handle!.write(chunk, at, chunk.length - at)).bytesWritten;
      } catch (err) {
        await discard();
        throw writeError(path, err);
      }
    },
    async close() {
      try {
        if (temp) await handle!.sync(); // the renamed file must survive a power cut whole
        await handle!.close();
        handle = undefined;
        if (temp) await rename(temp, target);
      } catch (err) {
        await discard();
        throw writeError(path, err);
      }
    },
    abort: discard,
  });
}
