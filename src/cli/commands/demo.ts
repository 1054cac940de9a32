/**
 * `docker-patcher demo [OLD NEW]`: the whole round trip with no Docker and
 * no files: build two small sample images in memory (or read the two
 * archives given), create a patch, apply it back, check the rebuilt archive
 * is byte for byte the new one, and print what the patch holds.
 */
import { createHash } from 'node:crypto';
import { Command } from 'commander';
import { memorySource, type ByteSource } from '../../image/source.js';
import { fileSource, nodeHasher } from '../../image/source.node.js';
import { ErrorCode, PatcherError } from '../../errors.js';
import { contextOf } from '../context.js';
import { formatBytes } from '../progress.js';
import { formatSummary, progressTo, shortId } from '../report.js';

export function register(program: Command): void {
  program
    .command('demo')
    .description('round-trip two images (built-in samples, or the two archives given) and show the patch')
    .argument('[OLD]', 'an old image archive (default: a built-in sample image)')
    .argument('[NEW]', 'a new image archive (default: the sample\'s next version)')
    .action(async (oldPath: string | undefined, newPath: string | undefined, _options: unknown, cmd: Command) => {
      const ctx = contextOf(cmd);
      if ((oldPath === undefined) !== (newPath === undefined)) throw new PatcherError(ErrorCode.Usage, 'give both OLD and NEW, or neither');
      let old: ByteSource;
      let neu: ByteSource;
      if (oldPath && newPath) {
        [old, neu] = [await fileSource(oldPath), await fileSource(newPath)];
      } else {
        // Loaded here only: no other command needs the sample builder.
        const { buildDockerArchive } = await import('../../image/build.js');
        const { samplePair } = await import('../../image/sample.js');
        const pair = samplePair();
        old = memorySource(await buildDockerArchive(pair.old, { hasher: nodeHasher }));
        neu = memorySource(await buildDockerArchive(pair.new, { hasher: nodeHasher }));
        ctx.info(`built two sample images in memory: old ${formatBytes(old.size)}, new ${formatBytes(neu.size)}`);
      }
      const { createPatch } = await import('../../delta/create.js');
      const { applyPatch } = await import('../../delta/apply.js');
      const chunks: Uint8Array[] = [];
      let t = performance.now();
      const summary = await createPatch(old, neu, (c) => void chunks.push(c.slice()), { hasher: nodeHasher, onProgress: progressTo(ctx.progress) });
      const createMs = performance.now() - t;
      const patch = Buffer.concat(chunks);
      t = performance.now();
      const rebuilt = createHash('sha256');
      const result = await applyPatch(old, (async function* () { yield patch; })(), (c) => void rebuilt.update(c), { hasher: nodeHasher, onProgress: progressTo(ctx.progress) });
      const applyMs = performance.now() - t;
      const expected = createHash('sha256');
      for await (const c of neu.stream()) expected.update(c);
      const same = rebuilt.digest('hex') === expected.digest('hex');
      ctx.progress.clear();
      process.stdout.write(`${formatSummary(summary)}\n\n`);
      process.stdout.write(`created in ${createMs.toFixed(0)} ms, applied in ${applyMs.toFixed(0)} ms\n`);
      process.stdout.write(`rebuilt image ${shortId(result.newImageId)}: ${same ? 'byte for byte identical to the new archive' : 'DIFFERS from the new archive'}\n`);
      await old.close?.();
      await neu.close?.();
      if (!same) throw new PatcherError(ErrorCode.DigestMismatch, 'demo round trip did not reproduce the new archive');
    });
}
