/** `docker-patcher inspect PATCH`: what a patch holds, as a table or JSON. */
import { Command } from 'commander';
import { inspectPatch } from '../../delta/inspect.js';
import { fileSource } from '../../image/source.node.js';
import { formatSummary } from '../report.js';

export function register(program: Command): void {
  program
    .command('inspect')
    .description('show what a patch holds: both image IDs, and per layer reuse / delta / literal with its bytes')
    .argument('<PATCH>', "the patch ('-' = stdin)")
    .option('--json', 'print JSON on stdout')
    .action(async (patchPath: string, options: { json?: boolean }) => {
      const source = patchPath === '-' ? undefined : await fileSource(patchPath);
      try {
        const summary = await inspectPatch(source ? source.stream() : (process.stdin as AsyncIterable<Uint8Array>));
        process.stdout.write(options.json ? `${JSON.stringify(summary, null, 2)}\n` : `${formatSummary(summary)}\n`);
      } finally {
        await source?.close?.();
      }
    });
}
