/**
 * fileSink(path): a WritableStream that writes a file only if the run
 * succeeds, through the same output machinery as the CLI
 * (io/output-file.ts): bytes go to a hidden temporary file beside the
 * target, renamed over it on close(); abort() (any failure or an
 * AbortSignal) removes it, so a failed run leaves no output and the old
 * file, if any, untouched. A symlink is followed (its target is replaced); a
 * character device or a FIFO (/dev/null, a named pipe) is written directly.
 * Temporaries of killed runs are swept by the next run in that directory.
 * Node only.
 */
import { openOutputFile, type Output } from '../io/output-file.js';

/** A sink that writes `path` atomically: see the module comment. */
export function fileSink(path: string): WritableStream<Uint8Array> {
  let output: Output | undefined;
  const discard = async () => {
    await output?.abort();
    output = undefined;
  };
  return new WritableStream<Uint8Array>({
    async start() {
      output = await openOutputFile(path, { label: 'output' });
    },
    async write(chunk) {
      try {
        await output!.write(chunk);
      } catch (err) {
        await discard();
        throw err;
      }
    },
    async close() {
      await output!.commit();
      output = undefined;
    },
    abort: discard,
  });
}
