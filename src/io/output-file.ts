/**
 * Every file output (CLI and Node library) is checked before any work and
 * committed or aborted in one way:
 *
 * - a regular file (or a new name) is written to a temporary file next to
 *   it and renamed into place on commit; a symlink is resolved first, so
 *   its target is replaced and the link stays a link;
 * - a character device, block device or FIFO (/dev/null, a named pipe) is
 *   written directly as the bytes come; it is never renamed over.
 *
 * An output that is the same file (device and inode) as an input is
 * refused. Temporary names are `.<name>.docker-patcher-<pid>-<hex>.tmp`, so
 * the next run in that directory removes the ones whose process is gone
 * (after a SIGKILL). O_TMPFILE would avoid the sweep, but Node cannot link
 * such a file into place (it needs linkat(AT_EMPTY_PATH) or a /proc link
 * followed by linkat, neither reachable from node:fs).
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, statSync, unlinkSync, type Stats } from 'node:fs';
import { access, constants, lstat, open, readlink, realpath, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { ErrorCode, PatcherError } from '../errors.js';
import { ioError } from './fs-errors.js';

export interface Output {
  /** The path as the user gave it ('-' for stdout). */
  readonly shown: string;
  readonly kind: 'stdout' | 'direct' | 'file';
  bytesWritten: number;
  /** Append `data`; awaiting each write is the backpressure. */
  write(data: Uint8Array): Promise<void>;
  /** Make the output appear (rename; close). */
  commit(): Promise<void>;
  /** Remove what was written where possible. Never throws. */
  abort(): Promise<void>;
}

export interface OutputOptions {
  /** How messages name it: 'PATCH', 'NEW', 'output'. */
  label: string;
  /** Input paths by label ('-' and image references are skipped). */
  inputs?: Record<string, string | undefined>;
  /** What goes out is binary: refuse a terminal on stdout. */
  binary?: boolean;
}

/** Temp files not yet committed, removed on Ctrl-C and broken pipes (see cli/main.ts). */
const pending = new Set<string>();

/** Set once the run's result is in place: a signal after that is no failure. */
let complete = false;
export const markComplete = (): void => void (complete = true);
export const isComplete = (): boolean => complete;

export function removePendingOutputs(): void {
  for (const path of pending) {
    try {
      unlinkSync(path);
    } catch {
      // Already gone.
    }
  }
  pending.clear();
}

const TEMP_NAME = /^\..*\.docker-patcher-(\d+)-[0-9a-f]+\.tmp$/;

export function tempNameFor(target: string): string {
  return join(dirname(target), `.${basename(target)}.docker-patcher-${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, it is just not ours.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Remove temp files in `dir` left by runs that were killed. Best effort. */
export function sweepStaleTemps(dir: string): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return removed;
  }
  for (const name of names) {
    const pid = Number(TEMP_NAME.exec(name)?.[1] ?? 0);
    if (!pid || pid === process.pid || processAlive(pid)) continue;
    try {
      unlinkSync(join(dir, name));
      removed.push(name);
    } catch {
      // Someone else removed it, or we may not: leave it.
    }
  }
  return removed;
}

async function statOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await stat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Follow `path` through symlinks, also dangling ones (their target will be created). */
async function resolveLinks(path: string): Promise<string> {
  for (let hops = 0; hops < 40; hops++) {
    let info;
    try {
      info = await lstat(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return path;
      throw err;
    }
    if (!info.isSymbolicLink()) return path;
    path = resolve(dirname(path), await readlink(path));
  }
  throw Object.assign(new Error('too many levels of symbolic links'), { code: 'ELOOP' });
}

/** Refuse writing over an input (same device and inode). */
export function checkNotAnInput(out: Stats, path: string, options: OutputOptions): void {
  for (const [label, input] of Object.entries(options.inputs ?? {})) {
    if (!input || input === '-') continue;
    let info: Stats;
    try {
      info = statSync(input);
    } catch {
      continue; // Not a file (an image reference): nothing to overwrite.
    }
    if (info.dev === out.dev && info.ino === out.ino) {
      throw new PatcherError(ErrorCode.Usage, `${options.label} '${path}' is the same file as ${label} '${input}'; write to another file`);
    }
  }
}

/** What kind of output `path` is, checked now: before the work, not after. */
async function plan(path: string, options: OutputOptions): Promise<{ kind: 'direct' | 'file'; target: string }> {
  const target = await resolveLinks(path);
  const info = await statOrUndefined(target);
  if (info?.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
  if (info && (info.isCharacterDevice() || info.isFIFO() || info.isBlockDevice())) {
    await access(target, constants.W_OK);
    return { kind: 'direct', target };
  }
  if (info && !info.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'EINVAL' });
  if (info) checkNotAnInput(info, path, options);
  const dir = dirname(target);
  const dirInfo = await stat(dir).catch((err: NodeJS.ErrnoException) => {
    throw Object.assign(new Error(`directory '${dir}' does not exist`), { code: err.code === 'ENOENT' ? 'ENOENT_DIR' : err.code });
  });
  if (!dirInfo.isDirectory()) throw Object.assign(new Error('a path component is not a directory'), { code: 'ENOTDIR' });
  await access(dir, constants.W_OK);
  return { kind: 'file', target };
}

/** Open a file output (not stdout); every check that can fail does so here, before any work. */
export async function openOutputFile(path: string, options: OutputOptions): Promise<Output> {
  let planned;
  try {
    planned = await plan(path, options);
  } catch (err) {
    if (err instanceof PatcherError) throw err;
    throw ioError('create', options.label, path, err);
  }
  if (planned.kind === 'direct') return new DirectOutput(path, planned.target, options.label);
  sweepStaleTemps(dirname(planned.target));
  return FileOutput.create(path, planned.target, options.label, true);
}

/** A device or FIFO: opened on first use (a FIFO's open waits for its reader), written in place. */
class DirectOutput implements Output {
  readonly kind = 'direct';
  bytesWritten = 0;
  #handle: FileHandle | undefined;
  constructor(
    readonly shown: string,
    readonly target: string,
    readonly label: string,
  ) {}

  async write(data: Uint8Array): Promise<void> {
    try {
      this.#handle ??= await open(this.target, 'w');
      await writeAll(this.#handle, data);
      this.bytesWritten += data.length;
    } catch (err) {
      throw ioError('write', this.label, this.shown, err);
    }
  }

  async commit(): Promise<void> {
    try {
      this.#handle ??= await open(this.target, 'w');
      await this.#handle.close();
      this.#handle = undefined;
      markComplete();
    } catch (err) {
      throw ioError('write', this.label, this.shown, err);
    }
  }

  async abort(): Promise<void> {
    await this.#handle?.close().catch(() => undefined);
    this.#handle = undefined;
  }
}

async function writeAll(handle: FileHandle, data: Uint8Array): Promise<void> {
  for (let offset = 0; offset < data.length; ) offset += (await handle.write(data, offset, data.length - offset)).bytesWritten;
}

/** A regular file: bytes go to a temp file next to the target (same file system), renamed on commit. */
export class FileOutput implements Output {
  readonly kind = 'file';
  readonly tempPath: string;
  bytesWritten = 0;
  #handle: FileHandle | undefined;

  private constructor(
    readonly shown: string,
    readonly target: string,
    readonly label: string,
    /** The run's result (not a spool): once renamed, the run is complete. */
    readonly final: boolean,
  ) {
    this.tempPath = tempNameFor(target);
  }

  static async create(shown: string, target: string, label: string, final: boolean): Promise<FileOutput> {
    const out = new FileOutput(shown, target, label, final);
    try {
      out.#handle = await open(out.tempPath, 'wx', 0o644);
    } catch (err) {
      throw ioError('create', label, shown, err);
    }
    pending.add(out.tempPath);
    return out;
  }

  async write(data: Uint8Array): Promise<void> {
    try {
      await writeAll(this.#handle!, data);
      this.bytesWritten += data.length;
    } catch (err) {
      throw ioError('write', this.label, this.shown, err);
    }
  }

  async commit(): Promise<void> {
    try {
      await this.#handle!.sync();
      await this.#handle!.close();
      this.#handle = undefined;
      await rename(this.tempPath, this.target);
      pending.delete(this.tempPath);
      if (this.final) markComplete();
    } catch (err) {
      await this.abort();
      throw ioError('write', this.label, this.shown, err);
    }
  }

  async abort(): Promise<void> {
    await this.#handle?.close().catch(() => undefined);
    this.#handle = undefined;
    await unlink(this.tempPath).catch(() => undefined);
    pending.delete(this.tempPath);
  }
}

/** Run `work` against `output`; commit on success, abort on any failure. */
export async function writeOutput<T>(output: Output, work: (output: Output) => Promise<T>): Promise<T> {
  try {
    const result = await work(output);
    await output.commit();
    return result;
  } catch (err) {
    await output.abort();
    throw err;
  }
}

/** A file in the run's temp dir (a spool, an archive for the daemon): no checks, same commit/abort. */
export function scratchOutput(path: string, label: string): Promise<Output> {
  return FileOutput.create(path, path, label, false);
}
