/**
 * The CLI's outputs: `-` is stdout (refused when it is a terminal and the
 * bytes are binary); every other path goes through io/output-file.ts.
 */
import { fstatSync } from 'node:fs';
import { checkNotAnInput, markComplete, openOutputFile, type Output, type OutputOptions } from '../io/output-file.js';
import { usageError } from './io.js';

export { FileOutput, isComplete, markComplete, removePendingOutputs, scratchOutput, sweepStaleTemps, tempNameFor, writeOutput } from '../io/output-file.js';
export type { Output, OutputOptions } from '../io/output-file.js';

/** Open an output; every check that can fail does so here, before any work. */
export async function openOutput(path: string, options: OutputOptions): Promise<Output> {
  return path === '-' ? stdoutOutput(options) : openOutputFile(path, options);
}

function stdoutOutput(options: OutputOptions): Output {
  if (options.binary && process.stdout.isTTY) {
    throw usageError(`refusing to write ${options.label} to a terminal; redirect stdout or give a file name`);
  }
  // `create OLD NEW - > OLD`: the shell already truncated it, but say so rather than write.
  const out = fstatSync(1);
  if (out.isFile()) checkNotAnInput(out, '-', options);
  const output: Output = {
    shown: '-',
    kind: 'stdout',
    bytesWritten: 0,
    async write(data) {
      await new Promise<void>((resolveWrite, reject) => process.stdout.write(data, (err) => (err ? reject(err) : resolveWrite())));
      output.bytesWritten += data.length;
    },
    async commit() {
      markComplete();
    },
    async abort() {},
  };
  return output;
}

