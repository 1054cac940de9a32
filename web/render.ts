/**
 * Pure DOM rendering of the demo's results: byte formatting, the summary
 * headline, the composition bar and the table of entries. No state here.
 */
import type { EntrySummary, PatchSummary } from '../src/delta/types.js';
import { formatBytes } from '../src/format/units.js';

/** Bytes in binary units (up to TiB): "6.1 MiB". */
export { formatBytes };

type Kind = EntrySummary['kind'];

const KIND_LABELS: Record<Kind, string> = { reuse: 'reused', delta: 'delta', literal: 'literal', none: 'no data' };
const KIND_COLORS: Record<Kind, string> = {
  reuse: 'var(--reuse)',
  delta: 'var(--delta)',
  literal: 'var(--literal)',
  none: 'var(--none)',
};
const KIND_MEANING: Record<Kind, string> = {
  reuse: 'reused from the old image',
  delta: 'rebuilt from a binary delta',
  literal: 'sent as compressed bytes',
  none: 'no data',
};

/** Milliseconds as "840 ms" or "3.2 s". */
export function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

export function formatPercent(fraction: number): string {
  if (!Number.isFinite(fraction)) return '–';
  const percent = fraction * 100;
  return `${percent >= 10 || percent === 0 ? percent.toFixed(1) : percent.toPrecision(2)}%`;
}

/** "a1b2c3d4e5f6…/layer.tar" for docker-save's 64-hex directory names. */
function shortName(name: string): string {
  return name.replace(/[0-9a-f]{64}/g, (hex) => `${hex.slice(0, 12)}…`);
}

function element<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, className?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

function cell(row: HTMLTableRowElement, text: string, className?: string, title?: string): HTMLTableCellElement {
  const td = element('td', text, className);
  if (title) td.title = title;
  row.append(td);
  return td;
}

/** Layer blobs (legacy `<id>/layer.tar`, or any entry the summary gives a diff_id). */
function isLayer(entry: EntrySummary): boolean {
  return entry.diffId !== undefined || entry.name.endsWith('/layer.tar');
}

function kindBadge(kind: Kind): HTMLElement {
  return element('span', KIND_LABELS[kind], `kind kind-${kind}`);
}

function addSizeCells(row: HTMLTableRowElement, size: number, patchBytes: number): void {
  cell(row, formatBytes(size), 'num', `${size} bytes`);
  cell(row, formatBytes(patchBytes), 'num', `${patchBytes} bytes`);
  cell(row, size > 0 ? formatPercent(patchBytes / size) : '–', 'num');
}

function addTotalRow(table: HTMLTableElement, summary: PatchSummary): void {
  const foot = table.tFoot ?? table.createTFoot();
  foot.replaceChildren();
  const row = foot.insertRow();
  cell(row, 'Whole archive (with tar headers and the patch header)');
  cell(row, '');
  addSizeCells(row, summary.newArchiveSize, summary.patchSize);
}

/** "Patch: 312 KiB for a 6.1 MiB new image, saved 95.0%" plus the reused-layer count. */
export function renderHeadline(target: HTMLElement, summary: PatchSummary, patchBlobSize: number): void {
  const patchSize = summary.patchSize || patchBlobSize;
  const saved = 1 - patchSize / summary.newArchiveSize;
  const layers = summary.entries.filter((entry) => entry.diffId !== undefined || entry.name.endsWith('layer.tar'));
  const reused = layers.filter((entry) => entry.kind === 'reuse').length;
  target.replaceChildren(
    'Patch: ',
    element('strong', formatBytes(patchSize)),
    ` for a ${formatBytes(summary.newArchiveSize)} new image, saved `,
    element('strong', formatPercent(saved)),
    `. ${reused} of ${layers.length} layers reused whole.`,
  );
  target.dataset.saved = saved.toFixed(4);
}

/** A bar of the new archive's data bytes by what they became, with a legend. */
export function renderComposition(bar: HTMLElement, legend: HTMLElement, summary: PatchSummary): void {
  const bytes: Record<Kind, number> = { reuse: 0, delta: 0, literal: 0, none: 0 };
  for (const entry of summary.entries) bytes[entry.kind] += entry.size;
  const total = bytes.reuse + bytes.delta + bytes.literal || 1;
  bar.replaceChildren();
  legend.replaceChildren();
  for (const kind of ['reuse', 'delta', 'literal'] as const) {
    if (bytes[kind] === 0) continue;
    const part = element('span');
    part.style.width = `${(bytes[kind] / total) * 100}%`;
    part.style.background = KIND_COLORS[kind];
    part.title = `${KIND_LABELS[kind]}: ${formatBytes(bytes[kind])}`;
    bar.append(part);
    const item = element('li', `${formatBytes(bytes[kind])} ${KIND_MEANING[kind]} (${formatPercent(bytes[kind] / total)})`);
    item.style.setProperty('--swatch', KIND_COLORS[kind]);
    legend.append(item);
  }
}

/**
 * The at-a-glance table: one row per layer, then one row for all the small
 * metadata entries (config, manifest, per-layer VERSION/json, directories).
 */
export function renderLayers(table: HTMLTableElement, summary: PatchSummary): void {
  const body = table.tBodies[0];
  body.replaceChildren();
  for (const entry of summary.entries.filter(isLayer)) {
    const row = body.insertRow();
    row.dataset.kind = entry.kind;
    cell(row, `Layer ${shortName(entry.name).replace(/\/layer\.tar$/, '')}`, 'name', entry.diffId ? `${entry.name}\ndiff_id ${entry.diffId}` : entry.name);
    cell(row, '').append(kindBadge(entry.kind));
    addSizeCells(row, entry.size, entry.patchBytes);
  }
  const metadata = summary.entries.filter((entry) => !isLayer(entry));
  if (metadata.length > 0) {
    const row = body.insertRow();
    row.dataset.kind = 'metadata';
    cell(row, `Metadata: ${metadata.length} small entries (image config, manifest, per-layer json)`, 'name', metadata.map((e) => e.name).join('\n'));
    const kinds = cell(row, '');
    for (const kind of new Set(metadata.filter((e) => e.size > 0).map((e) => e.kind))) kinds.append(kindBadge(kind), ' ');
    const size = metadata.reduce((sum, e) => sum + e.size, 0);
    addSizeCells(row, size, metadata.reduce((sum, e) => sum + e.patchBytes, 0));
  }
  addTotalRow(table, summary);
}

/** Every entry of the new archive, in archive order (the details table). */
export function renderEntries(table: HTMLTableElement, summary: PatchSummary): void {
  const body = table.tBodies[0];
  body.replaceChildren();
  for (const entry of summary.entries) {
    const row = body.insertRow();
    row.dataset.kind = entry.kind;
    cell(row, shortName(entry.name), 'name', entry.diffId ? `${entry.name}\ndiff_id ${entry.diffId}` : entry.name);
    cell(row, '').append(kindBadge(entry.kind));
    addSizeCells(row, entry.size, entry.patchBytes);
  }
  addTotalRow(table, summary);
}
