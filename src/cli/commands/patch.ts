/**
 * `docker-patcher patch OLD PATCH NEW`: rebuild NEW from OLD and a single-file
 * patch (raw DPRAW, BSDIFF40 or ENDSLEY/BSDIFF43). NEW appears only after it
 * is verified: sha256 for raw patches, size for classic ones (they carry no
 * digest). Memory: OLD and PATCH whole, the decoded delta (about NEW size),
 * and one output chunk at a time (the whole output when NEW is stdout).
 */
import { createHash } from 'node:crypto';
import { Command } from 'commander';
import { loadCore } from '../../core/index.js';
import { ErrorCode, PatcherError } from '../../errors.js';
import { checkDelta } from '../../format/ctrl.js';
import type { SingleFilePatch } from '../../format/single.js';
import { toHex } from '../../format/checksum.js';
import { AtomicOutput, checkOneStdin, readInput, writeStdout } from '../io.js';
import { contextOf, type CliContext } from '../program.js';
import { formatBytes } from '../progress.js';

const CHUNK_SIZE = 4 << 20;

export function register(program: Command): void {
  program
    .command('patch')
    .description('rebuild NEW from OLD and a patch (docker-patcher raw, BSDIFF40 or ENDSLEY/BSDIFF43)')
    .argument('<OLD>', "the file the patch was made from ('-' = stdin)")
    .argument('<PATCH>', "the patch ('-' = stdin)")
    .argument('<NEW>', "where to write the result ('-' = stdout)")
    .addHelpText(
      'after',
      `
NEW is written to a temporary file next to it and renamed into place only
after it is verified (sha256 for docker-patcher patches; classic bsdiff
patches carry no digest, so only their size is checked). On any failure
nothing is left at NEW.

Examples:
  $ docker-patcher patch app-1.0.bin app.patch app-1.1.bin
  $ curl -s https://example.com/app.patch | docker-patcher patch app-1.0.bin - app-1.1.bin
  $ docker-patcher patch old.bin made-by-bsdiff.patch new.bin`,
    )
    .action(async (oldPath: string, patchPath: string, newPath: string, _options: unknown, command: Command) => {
      await runPatch(oldPath, patchPath, newPath, contextOf(command));
    });
}

async function runPatch(oldPath: string, patchPath: string, newPath: string, ctx: CliContext): Promise<void> {
  checkOneStdin({ OLD: oldPath, PATCH: patchPath });
  try {
    ctx.progress.phase('reading');
    const old = await readInput(oldPath, 'OLD');
    const bytes = await readInput(patchPath, 'PATCH');
    ctx.progress.phase('decoding', bytes.length);
    // The readers (bzip2 for the classic formats) load only when patching.
    const { decodeSingleFilePatch } = await import('../../format/single.js');
    const { checkRawOld } = await import('../../format/raw.js');
    const patch = decodeSingleFilePatch(bytes);
    if (patch.format === 'raw') checkRawOld({ ...patch, oldSize: patch.oldSize!, oldSha256: patch.oldSha256!, newSha256: patch.newSha256! }, old);
    checkDelta(patch.delta, old.length, patch.newSize);
    const core = await loadCore();
    ctx.progress.phase('patching', patch.newSize);
    if (newPath === '-') {
      const out = core.patch(old, patch.delta, patch.newSize);
      verify(patch, out.length, createHash('sha256').update(out).digest());
      await writeStdout(out);
    } else {
      await patchToFile(core.patchChunks(old, patch.delta, patch.newSize, CHUNK_SIZE), patch, newPath, ctx);
    }
    ctx.info(`${newPath === '-' ? 'output' : newPath}: ${formatBytes(patch.newSize)}, ${patch.newSha256 ? 'sha256 verified' : `size verified (${patch.format} has no digest)`}`);
  } finally {
    ctx.progress.clear();
  }
}

async function patchToFile(chunks: Iterable<Uint8Array>, patch: SingleFilePatch, target: string, ctx: CliContext): Promise<void> {
  const output = await AtomicOutput.create(target, 'NEW');
  try {
    const hash = createHash('sha256');
    for (const chunk of chunks) {
      hash.update(chunk);
      await output.write(chunk);
      ctx.progress.update(output.bytesWritten);
    }
    verify(patch, output.bytesWritten, hash.digest());
    await output.commit();
  } catch (err) {
    await output.abort();
    throw err;
  }
}

/** The output must be what the patch promised, or nothing is written. */
function verify(patch: SingleFilePatch, size: number, digest: Uint8Array): void {
  if (size !== patch.newSize) {
    throw new PatcherError(ErrorCode.DigestMismatch, `rebuilt NEW has ${size} bytes, the patch promised ${patch.newSize}`);
  }
  if (patch.newSha256 && toHex(digest) !== toHex(patch.newSha256)) {
    throw new PatcherError(ErrorCode.DigestMismatch, `rebuilt NEW has sha256 ${toHex(digest)}, the patch promised ${toHex(patch.newSha256)}`);
  }
}
