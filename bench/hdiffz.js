// HDiffPatch's hdiffz/hpatchz as a reference tool for the bench, measured in
// the same run as ours. Neither Debian nor the npm registry ships HDiffPatch
// as a program, but the npm package react-native-update carries its C
// sources (MIT) for its Android build: fetched once with `npm pack` and
// built into bench/.cache with the system's gcc, zlib, bzip2 and zstd
// (libzstd-dev). Nothing of it is part of docker-patcher. An `hdiffz` on
// PATH is used instead when there is one.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { onPath } from './measure.js';

// The release whose tarball holds HDiffPatch 3.1.1 (android/jni/HDiffPatch).
const CARRIER = 'react-native-update@10.40.2';

/** hdiffz's options in the bench: HDiffPatch's defaults for in-memory diffing, 2 threads. */
export const HDIFFZ_ARGS = ['-m-6', '-p-2'];

/**
 * { hdiffz, hpatchz, version } or { missing: reason }. Builds once into
 * cacheDir/hdiffpatch; a failed build is not retried until that dir is removed.
 */
export function hdiffPatchTools(cacheDir) {
  if (onPath('hdiffz') && onPath('hpatchz')) return withVersion({ hdiffz: 'hdiffz', hpatchz: 'hpatchz' });
  const dir = join(cacheDir, 'hdiffpatch');
  const failed = join(dir, 'build-failed');
  const tools = { hdiffz: join(dir, 'src/hdiffz'), hpatchz: join(dir, 'src/hpatchz') };
  if (existsSync(tools.hdiffz) && existsSync(tools.hpatchz)) return withVersion(tools);
  if (existsSync(failed)) return { missing: `an earlier build failed (${readFileSync(failed, 'utf8').trim()}; remove ${dir} to retry)` };
  for (const cmd of ['gcc', 'g++', 'make']) if (!onPath(cmd)) return { missing: `${cmd} not on PATH (needed to build hdiffz)` };
  if (!existsSync('/usr/include/zstd.h')) return { missing: 'zstd.h not found (apt-get install libzstd-dev)' };
  try {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const tgz = execFileSync('npm', ['pack', '--silent', CARRIER, '--pack-destination', dir], { encoding: 'utf8' }).trim().split('\n').pop();
    execFileSync('tar', ['-xzf', join(dir, tgz), '-C', dir, 'package/android/jni/HDiffPatch']);
    execFileSync('mv', [join(dir, 'package/android/jni/HDiffPatch'), join(dir, 'src')]);
    rmSync(join(dir, 'package'), { recursive: true, force: true });
    // Its Makefile links hpatchz without zstd; our build turns the zstd plugin on.
    const makefile = join(dir, 'src/Makefile');
    writeFileSync(makefile, readFileSync(makefile, 'utf8').replace(/^PATCH_LINK := -lz -lbz2$/m, 'PATCH_LINK := -lz -lbz2 -lzstd'));
    const env = { ...process.env, CFLAGS: '-O2 -D_CompressPlugin_zstd', CXXFLAGS: '-O2 -D_CompressPlugin_zstd' };
    const made = spawnSync('make', ['LZMA=0', 'MD5=0', 'DIR_DIFF=0'], { cwd: join(dir, 'src'), env, encoding: 'utf8' });
    if (made.status !== 0) throw new Error(`make exited ${made.status}: ${(made.stderr || '').trim().split('\n').pop()}`);
    for (const f of readdirSync(dir)) if (f.endsWith('.tgz')) rmSync(join(dir, f));
    return withVersion(tools);
  } catch (err) {
    const reason = String(err.message ?? err).split('\n')[0];
    mkdirSync(dir, { recursive: true });
    writeFileSync(failed, reason);
    return { missing: reason };
  }
}

function withVersion(tools) {
  const out = spawnSync(tools.hdiffz, ['-v'], { encoding: 'utf8' });
  const version = /v(\d+\.\d+\.\d+)/.exec(`${out.stdout}${out.stderr}`)?.[1] ?? 'unknown';
  return { ...tools, version };
}
