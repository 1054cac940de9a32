/**
 * The core of `push PATCH REPO`, shared with `create --push`: read the
 * patch's header and digest, push it as an OCI artifact (pushPatch in
 * src/registry/artifact.ts), and print its reference on stdout (or the
 * result as JSON) with a line on stderr saying what was uploaded and what
 * the patch refers to.
 */
import { createHash } from 'node:crypto';
import { readHeader } from '../format/image/container.js';
import { FrameReader } from '../format/image/frames.js';
import { fileSource } from '../image/source.node.js';
import type { ByteSource } from '../image/source.js';
import type { PushResult } from '../registry/artifact.js';
import type { RegistryClient } from '../registry/client.js';
import type { Reference } from '../registry/reference.js';
import type { CliContext } from './context.js';
import { formatBytes } from './progress.js';

export interface PushFileOptions {
  chunkSize?: number;
  /** The new image's manifest digest, when known (see PushOptions.subject). */
  subject?: string;
}

/** Push the patch file at `path` to `repo`; returns the result and the patch's size. */
export async function pushPatchFile(client: RegistryClient, path: string, repo: Reference, options: PushFileOptions = {}): Promise<PushResult & { size: number }> {
  const source = await fileSource(path);
  try {
    const header = await readHeader(new FrameReader(source.stream()));
    const digest = await digestOf(source);
    const { pushPatch } = await import('../registry/artifact.js');
    const result = await pushPatch(client, repo, header, { digest, size: source.size, open: () => source.stream() }, options);
    return { ...result, size: source.size };
  } finally {
    await source.close?.();
  }
}

/** The pushed reference on stdout and a summary line on stderr. */
export function reportPush(ctx: CliContext, result: PushResult & { size: number }): void {
  process.stdout.write(`${result.reference}\n`);
  const sent = result.uploaded ? `${formatBytes(result.uploaded)} uploaded` : 'already there, nothing uploaded';
  const found = result.findable === 'digest-only' ? 'the new image is not in this repository: findable by digest only' : `refers to ${result.subject!} (${result.findable})`;
  ctx.info(`pushed ${formatBytes(result.size)} patch: ${sent}; ${found}`);
}

async function digestOf(source: ByteSource): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of source.stream()) hash.update(chunk);
  return `sha256:${hash.digest('hex')}`;
}
