/**
 * The demo page's controller: file inputs -> worker -> results. All heavy
 * work happens in worker.ts; this file only moves Files and Blobs across and
 * updates the DOM (rendering helpers in render.ts). Two flows: make a patch
 * from two archives (and apply it back), or apply a patch file to an old
 * archive (the device side). Cancel terminates the worker and starts a
 * fresh one: nothing of the cancelled work survives.
 */
import type { PatchSummary, Phase, Progress } from '../src/delta/types.js';
import type { Engine, Reply, Request } from './protocol.js';
import { formatBytes, formatMs, formatPercent, renderComposition, renderEntries, renderHeadline, renderLayers } from './render.js';

const PHASE_LABELS: Record<Phase, string> = {
  index: 'Indexing the old image',
  plan: 'Planning',
  diff: 'Diffing',
  'read-old': 'Reading the old image',
  rebuild: 'Rebuilding',
  verify: 'Verifying',
  load: 'Loading',
};

function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const node = document.getElementById(id);
  if (!node) throw new Error(`page is missing #${id}`);
  return node as T;
}

const ui = {
  oldFile: byId<HTMLInputElement>('old-file'),
  newFile: byId<HTMLInputElement>('new-file'),
  create: byId<HTMLButtonElement>('create'),
  status: byId('status'),
  progressBar: byId<HTMLProgressElement>('progress-bar'),
  progressText: byId('progress-text'),
  error: byId('error'),
  result: byId('result'),
  headline: byId('headline'),
  composition: byId('composition'),
  legend: byId('legend'),
  layers: byId<HTMLTableElement>('layers'),
  entries: byId<HTMLTableElement>('entries'),
  entriesSummary: byId('entries-summary'),
  downloadPatch: byId<HTMLAnchorElement>('download-patch'),
  apply: byId<HTMLButtonElement>('apply'),
  verify: byId('verify'),
  verdict: byId('verdict'),
  rebuiltId: byId('rebuilt-id'),
  expectedId: byId('expected-id'),
  rebuiltDigest: byId('rebuilt-digest'),
  newDigest: byId('new-digest'),
  downloadRebuilt: byId<HTMLAnchorElement>('download-rebuilt'),
  timing: byId('timing'),
  timeCreate: byId('time-create'),
  timeApply: byId('time-apply'),
  timeHash: byId('time-hash'),
  engine: byId('engine'),
  deviceOld: byId<HTMLInputElement>('device-old-file'),
  devicePatch: byId<HTMLInputElement>('device-patch-file'),
  deviceExpect: byId<HTMLInputElement>('device-expect'),
  applyFiles: byId<HTMLButtonElement>('apply-files'),
  cancel: byId<HTMLButtonElement>('cancel'),
  notice: byId('notice'),
  applied: byId('applied'),
  appliedVerdict: byId('applied-verdict'),
  appliedId: byId('applied-id'),
  appliedTags: byId('applied-tags'),
  appliedDigest: byId('applied-digest'),
  downloadApplied: byId<HTMLAnchorElement>('download-applied'),
};

/** What the last successful create produced (kept for "Apply back"). */
let created: { summary: PatchSummary; patch: Blob; oldFile: File; newFile: File } | undefined;
let busy = false;
const objectUrls: string[] = [];

let worker = startWorker();

function startWorker(): Worker {
  const fresh = new Worker('worker.js');
  // A terminated worker's last messages must not reach the page.
  fresh.onmessage = (event: MessageEvent<Reply>) => {
    if (fresh === worker) onReply(event.data);
  };
  fresh.onerror = (event) => {
    event.preventDefault();
    if (fresh !== worker) return;
    finishWork();
    showError(`The worker failed to start or crashed: ${event.message || 'see the browser console'}`);
  };
  return fresh;
}

function send(request: Request): void {
  busy = true;
  updateButtons();
  hideError();
  ui.notice.hidden = true;
  ui.status.hidden = false;
  ui.progressBar.removeAttribute('value');
  ui.progressText.textContent = request.type === 'create' ? 'Starting…' : 'Applying…';
  worker.postMessage(request);
}

/** Stop the work in progress: the worker goes, with everything it held; the page is idle again. */
function cancel(): void {
  if (!busy) return;
  worker.terminate();
  worker = startWorker();
  finishWork();
  ui.notice.textContent = 'Cancelled: nothing was kept.';
  ui.notice.hidden = false;
}

function finishWork(): void {
  busy = false;
  ui.status.hidden = true;
  updateButtons();
}

function updateButtons(): void {
  ui.create.disabled = busy || !ui.oldFile.files?.length || !ui.newFile.files?.length;
  ui.apply.disabled = busy || created === undefined;
  ui.applyFiles.disabled = busy || !ui.deviceOld.files?.length || !ui.devicePatch.files?.length;
}

function showError(message: string): void {
  ui.error.textContent = message;
  ui.error.hidden = false;
}

function hideError(): void {
  ui.error.hidden = true;
  ui.error.textContent = '';
}

/** Forget results and their Blob URLs (new files were picked). */
function resetResults(): void {
  created = undefined;
  for (const url of objectUrls.splice(0)) URL.revokeObjectURL(url);
  ui.result.hidden = true;
  ui.verify.hidden = true;
  ui.timing.hidden = true;
  for (const span of [ui.timeCreate, ui.timeApply, ui.timeHash]) {
    span.textContent = '–';
    delete span.dataset.ms;
  }
  hideError();
  updateButtons();
}

function objectUrl(blob: Blob): string {
  const url = URL.createObjectURL(blob);
  objectUrls.push(url);
  return url;
}

function showProgress(reply: Extract<Reply, { type: 'progress' }>): void {
  const { progress, input } = reply;
  if (progress && progress.phase !== 'index' && progress.total > 0) {
    showFraction(progress, progress.done / progress.total);
  } else if (input.total > 0) {
    // Until the library reports past indexing: what has been read of the old image.
    showFraction({ phase: progress?.phase ?? 'read-old', detail: progress?.detail, done: input.done, total: input.total }, input.done / input.total);
  } else {
    ui.progressBar.removeAttribute('value');
    ui.progressText.textContent = `${progress ? PHASE_LABELS[progress.phase] : 'Starting'}…`;
  }
}

function showFraction(progress: Progress, ratio: number): void {
  const label = PHASE_LABELS[progress.phase] ?? progress.phase;
  const detail = progress.detail ? `, ${progress.detail}` : '';
  const fraction = Math.min(1, ratio);
  ui.progressBar.value = fraction;
  // 'plan' counts layers (its detail names them); every other phase counts bytes.
  const amount = progress.phase === 'plan' ? '' : `: ${formatBytes(progress.done)} of ${formatBytes(progress.total)}`;
  ui.progressText.textContent = `${label}${detail}${amount} (${formatPercent(fraction)})`;
}

function setTime(span: HTMLElement, ms: number): void {
  span.textContent = formatMs(ms);
  span.dataset.ms = String(Math.round(ms));
  ui.timing.hidden = false;
}

/** Which engine ran (data-workers, data-sha256, data-hash-worker for scripts). */
function showEngine(engine: Engine): void {
  ui.engine.textContent =
    `${engine.workers} diff worker${engine.workers === 1 ? '' : 's'}; sha256 ${engine.sha256 === 'core' ? 'in the WASM core' : 'in plain JavaScript'}` +
    `; the rebuilt archive hashed ${engine.hashWorker ? 'on a worker of its own' : 'on the page\'s worker'}`;
  ui.engine.dataset.workers = String(engine.workers);
  ui.engine.dataset.sha256 = engine.sha256;
  ui.engine.dataset.hashWorker = String(engine.hashWorker);
}

function baseName(file: File): string {
  return file.name.replace(/\.tar$/i, '') || 'image';
}

function onReply(reply: Reply): void {
  switch (reply.type) {
    case 'progress':
      showProgress(reply);
      return;
    case 'error':
      finishWork();
      showError(`${reply.step === 'create' ? 'Could not create the patch' : 'Could not apply the patch'}: ${reply.message}`);
      return;
    case 'created':
      onCreated(reply);
      return;
    case 'applied':
      onApplied(reply);
      return;
    case 'applied-files':
      onAppliedFiles(reply);
      return;
  }
}

function onCreated(reply: Extract<Reply, { type: 'created' }>): void {
  const oldFile = ui.oldFile.files?.[0];
  const newFile = ui.newFile.files?.[0];
  finishWork();
  if (!oldFile || !newFile) return;
  created = { summary: reply.summary, patch: reply.patch, oldFile, newFile };
  renderHeadline(ui.headline, reply.summary, reply.patch.size);
  renderComposition(ui.composition, ui.legend, reply.summary);
  renderLayers(ui.layers, reply.summary);
  renderEntries(ui.entries, reply.summary);
  ui.entriesSummary.textContent = `Every entry of the new archive (${reply.summary.entries.length})`;
  ui.downloadPatch.href = objectUrl(reply.patch);
  ui.downloadPatch.download = `${baseName(oldFile)}-to-${baseName(newFile)}.patch`;
  ui.downloadPatch.textContent = `Download patch (${formatBytes(reply.patch.size)})`;
  ui.result.hidden = false;
  ui.verify.hidden = true;
  setTime(ui.timeCreate, reply.createMs);
  showEngine(reply.engine);
  updateButtons();
}

function onApplied(reply: Extract<Reply, { type: 'applied' }>): void {
  finishWork();
  if (!created) return;
  const idMatches = reply.newImageId === created.summary.newImageId;
  const archiveMatches = reply.outputDigest === reply.newFileDigest;
  const match = idMatches && archiveMatches;
  ui.verdict.dataset.state = match ? 'match' : 'mismatch';
  ui.verdict.textContent = match
    ? '✔ match: the rebuilt archive is byte for byte the new archive'
    : `✘ MISMATCH: ${archiveMatches ? 'the image ID differs from the one the patch promised' : 'the rebuilt archive differs from the new archive you picked'}`;
  ui.rebuiltId.textContent = reply.newImageId;
  ui.expectedId.textContent = created.summary.newImageId;
  ui.rebuiltDigest.textContent = reply.outputDigest;
  ui.newDigest.textContent = reply.newFileDigest;
  ui.downloadRebuilt.href = objectUrl(reply.output);
  ui.downloadRebuilt.download = `${baseName(created.newFile)}-rebuilt.tar`;
  ui.verify.hidden = false;
  setTime(ui.timeApply, reply.applyMs);
  setTime(ui.timeHash, reply.hashMs);
  showEngine(reply.engine);
}

function onAppliedFiles(reply: Extract<Reply, { type: 'applied-files' }>): void {
  finishWork();
  ui.appliedVerdict.textContent =
    `✔ verified: the config hashes to the new image ID and ${reply.layersVerified} layer${reply.layersVerified === 1 ? '' : 's'} ` +
    `match their diff_ids (applied in ${formatMs(reply.applyMs)})`;
  ui.appliedId.textContent = reply.newImageId;
  ui.appliedTags.textContent = reply.tags.length ? reply.tags.join(', ') : '(none)';
  ui.appliedDigest.textContent = reply.outputDigest;
  ui.downloadApplied.href = objectUrl(reply.output);
  ui.downloadApplied.download = `${reply.newImageId.replace(/^sha256:/, '').slice(0, 12)}.tar`;
  ui.downloadApplied.textContent = `Download new archive (${formatBytes(reply.output.size)})`;
  ui.applied.hidden = false;
}

/** Forget the device side's result (other files were picked). */
function resetApplied(): void {
  ui.applied.hidden = true;
  ui.downloadApplied.removeAttribute('href');
  hideError();
  updateButtons();
}

ui.oldFile.addEventListener('change', resetResults);
ui.newFile.addEventListener('change', resetResults);
ui.deviceOld.addEventListener('change', resetApplied);
ui.devicePatch.addEventListener('change', resetApplied);
ui.create.addEventListener('click', () => {
  const oldFile = ui.oldFile.files?.[0];
  const newFile = ui.newFile.files?.[0];
  if (!oldFile || !newFile || busy) return;
  resetResults();
  send({ type: 'create', oldFile, newFile });
});
ui.apply.addEventListener('click', () => {
  if (!created || busy) return;
  ui.verify.hidden = true;
  send({ type: 'apply', oldFile: created.oldFile, newFile: created.newFile, patch: created.patch });
});
ui.applyFiles.addEventListener('click', () => {
  const oldFile = ui.deviceOld.files?.[0];
  const patchFile = ui.devicePatch.files?.[0];
  if (!oldFile || !patchFile || busy) return;
  resetApplied();
  send({ type: 'apply-files', oldFile, patchFile, expectNewId: ui.deviceExpect.value.trim() || undefined });
});
ui.cancel.addEventListener('click', cancel);
updateButtons();
