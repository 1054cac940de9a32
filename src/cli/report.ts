/**
 * Shared by create, apply, inspect and demo: library progress onto the CLI
 * progress line, the per-entry table, and size/ID formatting.
 */
import type { PatchSummary, Progress as LibProgress } from '../delta/types.js';
import { formatBytes, type Progress } from './progress.js';

const PHASE_NAMES: Record<string, string> = {
  index: 'indexing old layers',
  plan: 'planning changed layers',
  diff: 'diffing',
  'read-old': 'reading old layers',
  rebuild: 'rebuilding',
  verify: 'verifying',
  load: 'loading',
};

/** An onProgress callback that drives the CLI's progress line. */
export function progressTo(progress: Progress): (p: LibProgress) => void {
  let phase = '';
  return (p) => {
    if (p.phase !== phase) {
      phase = p.phase;
      progress.phase(PHASE_NAMES[p.phase] ?? p.phase, p.total);
    }
    progress.update(p.done);
  };
}

export const shortId = (id: string): string => id.replace(/^sha256:/, '').slice(0, 12);

const pct = (part: number, whole: number): string => (whole > 0 ? `${((100 * part) / whole).toFixed(1)}%` : '-');

/** A readable table: one row per entry that carries data, layers first in archive order. */
export function formatSummary(s: PatchSummary): string {
  const lines = [
    `patch        ${formatBytes(s.patchSize)} (${s.patchSize} bytes), ${pct(s.patchSize, s.newArchiveSize)} of the new archive (${formatBytes(s.newArchiveSize)})`,
    `from         ${s.oldImageId}${s.oldManifestDigest ? `  manifest ${shortId(s.oldManifestDigest)}` : ''}`,
    `to           ${s.newImageId}${s.newManifestDigest ? `  manifest ${shortId(s.newManifestDigest)}` : ''}${s.newTags.length ? `  ${s.newTags.join(' ')}` : ''}`,
    `window       ${formatBytes(s.windowSize)}`,
    '',
    `${'KIND'.padEnd(8)} ${'SIZE'.padStart(11)} ${'IN PATCH'.padStart(11)} ${'SHARE'.padStart(7)}  ENTRY`,
  ];
  let small = 0;
  let smallBytes = 0;
  for (const e of s.entries) {
    if (e.kind === 'none' || (e.kind === 'literal' && e.size < 64 * 1024)) {
      small++;
      smallBytes += e.patchBytes;
      continue;
    }
    const how = e.compressed ? ` (${e.compressed}, ${e.kind === 'delta' ? 'tar diffed inside' : e.kind === 'literal' ? 'carried as stored' : 'reused'})` : '';
    lines.push(`${e.kind.padEnd(8)} ${formatBytes(e.size).padStart(11)} ${formatBytes(e.patchBytes).padStart(11)} ${pct(e.patchBytes, e.size).padStart(7)}  ${e.name}${how}`);
    const gzip = e.gzip ?? [];
    for (const g of gzip) {
      lines.push(`${'  gzip'.padEnd(8)} ${formatBytes(g.size).padStart(11)} ${formatBytes(g.patchBytes).padStart(11)} ${pct(g.patchBytes, g.size).padStart(7)}    ${g.name} (diffed decoded, ${g.patchBytes} bytes)`);
    }
    if (gzip.length > 1) {
      const [size, cost] = [gzip.reduce((n, g) => n + g.size, 0), gzip.reduce((n, g) => n + g.patchBytes, 0)];
      lines.push(`${'  gzip'.padEnd(8)} ${formatBytes(size).padStart(11)} ${formatBytes(cost).padStart(11)} ${pct(cost, size).padStart(7)}    ${gzip.length} gzip files diffed decoded in all (${size} bytes -> ${cost} in the patch)`);
    }
  }
  if (small) lines.push(`${'other'.padEnd(8)} ${''.padStart(11)} ${formatBytes(smallBytes).padStart(11)} ${''.padStart(7)}  ${small} small entries (config, manifest, directories)`);
  return lines.join('\n');
}
