/**
 * `docker-patcher patch OLD PATCH NEW`: rebuild NEW from OLD and a single-file
 * patch (raw DPRAW, BSDIFF40 or ENDSLEY/BSDIFF43). NEW appears only after it
 * is verified: sha256 for raw patches, size (and --expect-sha256 if given)
 * for classic ones, which carry no digest of their output. Memory: OLD and
 * PATCH whole, the decoded delta (about NEW size), and one output chunk at
 * a time (the whole output when NEW is stdout, so it is checked first).
 */
import { createHash } from 'node:crypto';
import { Command, InvalidArgumentError } from 'commander';
import { loadCore, type DiffCore } from '../../core/index.js';
import { ErrorCode, PatcherError } from '../../errors.js';
import { checkDelta } from '../../format/ctrl.js';
import type { SingleFilePatch } from '../../format/single/index.js';
import { toHex } from '../../format/single/checksum.js';
import { checkOneStdin, readInput } from '../io.js';
import { openOutput, writeOutput, type Output } from '../output.js';
import { contextOf, type CliContext } from '../context.js';
import { formatBytes } from '../progress.js';

const CHUNK_SIZE = 4 << 20;

interface PatchOptions {
  expectSha256?: string;
}

function parseSha256(value: string): string {
  const hex = value.trim().toLowerCase().replace(/^sha256:/, '');
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new InvalidArgumentError('expected 64 hex digits (sha256), optionally with sha256: in front');
  return hex;
}

export function register(program: Command): void {
  program
    .command('patch')
    .description('rebuild NEW from OLD and a patch (docker-patcher raw, BSDIFF40 or ENDSLEY/BSDIFF43)')
    .argument('<OLD>', "the file the patch was made from ('-' = stdin)")
    .argument('<PATCH>', "the patch ('-' = stdin)")
    .argument('<NEW>', "where to write the result ('-' = stdout)")
    .option('--expect-sha256 <hex>', 'the sha256 NEW must have; checked before NEW is written (use it with classic patches)', parseSha256)
    .addHelpText(
      'after',
      `
NEW is written to a temporary file next to it and renamed into place only
after it is verified; on any failure nothing is left at NEW. A symlink's
target is replaced (the link stays); a device or FIFO is written directly,
as the bytes come. NEW may not be OLD or PATCH.

docker-patcher patches carry the sha256 of OLD and NEW, and both are checked.
Classic bsdiff patches (BSDIFF40, ENDSLEY/BSDIFF43) carry no checksum of
their output: a damaged or forged one that still decodes gives a wrong NEW
with only its size checked, as bspatch would. Give --expect-sha256 to check
the result (exit 7 and nothing written if it differs).

Examples:
  $ docker-patcher patch app-1.0.bin app.patch app-1.1.bin
  $ curl -s https://example.com/app.patch | docker-patcher patch app-1.0.bin - app-1.1.bin
  $ docker-patcher patch --expect-sha256 9f86d0...0a08 old.bin made-by-bsdiff.patch new.bin`,
    )
    .action(async (oldPath: string, patchPath: string, newPath: string, options: PatchOptions, command: Command) => {
      await runPatch(oldPath, patchPath, newPath, options, contextOf(command));
    });
}

async function runPatch(oldPath: string, patchPath: string, newPath: string, options: PatchOptions, ctx: CliContext): Promise<void> {
  checkOneStdin({ OLD: oldPath, PATCH: patchPath });
  const output = await openOutput(newPath, { label: 'NEW', binary: true, inputs: { OLD: oldPath, PATCH: patchPath } });
  try {
    ctx.progress.phase('reading');
    const old = await readInput(oldPath, 'OLD');
    const bytes = await readInput(patchPath, 'PATCH');
    ctx.progress.phase('decoding', bytes.length);
    // The readers (bzip2 for the classic formats) load only when patching.
    const { decodeSingleFilePatch } = await import('../../format/single/index.js');
    const { checkRawOld } = await import('../../format/single/raw.js');
    const patch = decodeSingleFilePatch(bytes);
    if (patch.format === 'raw') checkRawOld({ ...patch, oldSize: patch.oldSize!, oldSha256: patch.oldSha256!, newSha256: patch.newSha256! }, old);
    checkDelta(patch.delta, old.length, patch.newSize);
    const core = await loadCore();
    ctx.progress.phase('patching', patch.newSize);
    const expected = { ...patch, expectSha256: options.expectSha256 };
    await writeOutput(output, async () => {
      if (output.kind === 'stdout') {
        // Stdout cannot be taken back: build all of NEW and check it first.
        const out = patch.code ? [...outputChunks(core, old, patch)][0] ?? new Uint8Array(0) : core.patch(old, patch.delta, patch.newSize);
        verify(expected, out.length, createHash('sha256').update(out).digest());
        await output.write(out);
      } else {
        await patchChunks(outputChunks(core, old, patch), expected, output, ctx);
      }
    });
    const checked = patch.newSha256 ? 'sha256 verified' : options.expectSha256 ? 'size and --expect-sha256 verified' : `size verified (${patch.format} has no digest)`;
    ctx.info(`${newPath === '-' ? 'output' : newPath}: ${formatBytes(patch.newSize)}, ${checked}`);
  } catch (err) {
    await output.abort();
    throw err;
  } finally {
    ctx.progress.clear();
  }
}

/** NEW in chunks; a patch with code ranges makes it in one (the filter is undone on the whole output). */
function outputChunks(core: DiffCore, old: Uint8Array, patch: SingleFilePatch): Iterable<Uint8Array> {
  if (!patch.code) return core.patchChunks(old, patch.delta, patch.newSize, CHUNK_SIZE);
  const prepared = core.preparePatch(old.length, patch.delta, patch.newSize, CHUNK_SIZE, patch.code);
  prepared.reference.set(old);
  return prepared.start();
}

async function patchChunks(chunks: Iterable<Uint8Array>, expected: Expected, output: Output, ctx: CliContext): Promise<void> {
  const hash = createHash('sha256');
  for (const chunk of chunks) {
    hash.update(chunk);
    await output.write(chunk);
    ctx.progress.update(output.bytesWritten);
  }
  verify(expected, output.bytesWritten, hash.digest());
}

type Expected = SingleFilePatch & { expectSha256?: string };

/** The output must be what the patch promised (and what the user expects), or nothing is written. */
function verify(patch: Expected, size: number, digest: Uint8Array): void {
  if (size !== patch.newSize) {
    throw new PatcherError(ErrorCode.DigestMismatch, `rebuilt NEW has ${size} bytes, the patch promised ${patch.newSize}`);
  }
  if (patch.newSha256 && toHex(digest) !== toHex(patch.newSha256)) {
    throw new PatcherError(ErrorCode.DigestMismatch, `rebuilt NEW has sha256 ${toHex(digest)}, the patch promised ${toHex(patch.newSha256)}`);
  }
  if (patch.expectSha256 && toHex(digest) !== patch.expectSha256) {
    throw new PatcherError(ErrorCode.DigestMismatch, `rebuilt NEW has sha256 ${toHex(digest)}, --expect-sha256 says ${patch.expectSha256}`);
  }
}
