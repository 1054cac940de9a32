/**
 * What apply and verify read: the old image (archive or daemon), the patch
 * as a re-readable file (stdin is spooled into the run's temp dir; patches
 * are small), its header, and NEW checked for the form it must have.
 */
import { statSync } from 'node:fs';
import { Option } from 'commander';
import { join } from 'node:path';
import { readHeader } from '../format/image/container.js';
import type { OldImageInput } from '../delta/old-image.js';
import { FrameReader } from '../format/image/frames.js';
import type { PatchHeader } from '../format/image/container.js';
import { fileSource, nodeHasher } from '../image/source.node.js';
import type { ByteSource } from '../image/source.js';
import { usageError } from './io.js';
import { classifyImageArg, dockerClient, type DaemonOptions } from './inputs.js';
import { scratchOutput, writeOutput } from './output.js';
import { registryClient, registryOptions, type RegistryCliOptions } from './registry-options.js';
import { shortId } from './report.js';

/** The patch as apply reads it: front to back, once per attempt. */
export type PatchInput = Pick<ByteSource, 'stream' | 'close'>;

/** With --from-registry, PATCH is a registry reference, never a path. */
export interface PatchOptions extends RegistryCliOptions {
  fromRegistry?: boolean;
}

export interface ApplyInputs {
  old: OldImageInput;
  patch: PatchInput;
  header: PatchHeader;
  close(): Promise<void>;
}

// The daemon modules are imported only when used: a device applying from
// an archive to a file loads less (apply's memory budget is tight).
async function oldImageInput(oldArg: string, options: DaemonOptions, dir: string): Promise<OldImageInput> {
  const input = classifyImageArg(oldArg, 'OLD');
  if (input.kind === 'archive') return fileSource(input.path);
  const { daemonOldImage } = await import('../docker/old-image.js');
  return daemonOldImage(await dockerClient(options), input.ref, { tempDir: dir, hasher: nodeHasher });
}

async function patchInput(patchArg: string, options: PatchOptions, dir: string): Promise<PatchInput> {
  if (options.fromRegistry) return registryPatch(patchArg, options);
  if (options.username || options.passwordStdin || options.caCert?.length || options.insecureRegistry?.length) {
    throw usageError('--username, --password-stdin, --ca-cert and --insecure-registry are for a patch in a registry: add --from-registry');
  }
  return patchFile(patchArg, dir);
}

/**
 * A patch in a registry: each stream() is a fresh GET of its blob, checked
 * against the manifest's digest as it passes (see RegistryClient.blob);
 * nothing is spooled to disk.
 */
async function registryPatch(refArg: string, options: RegistryCliOptions): Promise<PatchInput> {
  const { parseReference } = await import('../registry/reference.js');
  const { resolvePatch } = await import('../registry/artifact.js');
  const ref = parseReference(refArg);
  if (!ref.digest && !ref.tag) throw usageError(`--from-registry '${refArg}': name the patch by digest (REPO@sha256:…, as push prints it) or by tag`);
  const client = await registryClient(ref.registry, options);
  const { blob } = await resolvePatch(client, ref);
  return { stream: () => client.blob(ref.repository, blob.digest, blob.size) };
}

async function patchFile(patchPath: string, dir: string): Promise<ByteSource> {
  if (patchPath !== '-') return fileSource(patchPath);
  const path = join(dir, 'patch');
  await writeOutput(await scratchOutput(path, 'PATCH'), async (spool) => {
    for await (const chunk of process.stdin) await spool.write(chunk as Uint8Array);
  });
  return fileSource(path);
}

const isFile = (path: string): boolean => {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
};

/**
 * NEW names the image the patch makes, by ID: a tag or a path there is a
 * mix-up with -t or -o, and the patch can say which ID to give.
 */
function checkNewArg(newArg: string | undefined, header: PatchHeader): void {
  if (newArg === undefined) return;
  if (/^(sha256:)?[0-9a-f]+$/i.test(newArg) && !isFile(newArg)) return;
  const what = isFile(newArg) ? 'a file' : /:/.test(newArg) ? 'a tag' : 'not an image ID';
  throw usageError(`NEW '${newArg}' is ${what}: NEW must be the image ID the patch makes, ${shortId(header.new.imageId)}; use -t to tag, -o to write a file`);
}

export async function openApplyInputs(oldArg: string, newArg: string | undefined, patchPath: string, options: DaemonOptions & PatchOptions, dir: string): Promise<ApplyInputs> {
  const patch = await patchInput(patchPath, options, dir);
  let old: OldImageInput | undefined;
  const close = async (): Promise<void> => {
    await patch.close?.();
    if (old && 'close' in old && typeof old.close === 'function') await old.close();
  };
  try {
    const header = await readHeader(new FrameReader(patch.stream()));
    checkNewArg(newArg, header);
    old = await oldImageInput(oldArg, options, dir);
    return { old, patch, header, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** The --from-registry flag and the registry options, for apply and verify. */
export function patchSourceOptions(): Option[] {
  return [new Option('--from-registry', 'PATCH is a registry reference (REPO@sha256:… as push prints it, or REPO:TAG), streamed, never stored'), ...registryOptions()];
}
