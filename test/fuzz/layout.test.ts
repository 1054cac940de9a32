/**
 * "Layout" forgeries of the real small pair's patch: the outer docker-save
 * archive rearranged or padded around intact content (entries swapped,
 * dropped, repeated, renamed; end blocks added, dropped or followed by
 * garbage; tar header fields; the legacy per-layer VERSION and json files),
 * every digest the patch holds about itself recomputed, applied with NEW.
 *
 * apply ties its output to NEW through the config digest, the layers'
 * diff_ids and the manifest; bytes of the archive that do not name the
 * image (ordering, tar metadata, legacy v1 files, end blocks) are not tied,
 * so some of these are accepted. The property held here: each is refused,
 * or its output is the same image (config digest NEW, the tags apply reports, every layer
 * matching its diff_id) in other archive bytes, never another image.
 * The table of which is which is printed. Archives docker load cannot read
 * (end blocks it takes for a corrupt header, entry types its untar does not
 * handle) must be refused: they are marked 'refused' below.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { asLiteral, dataOffsets, decodePatch, encodePatch, setData, type ForgedPatch } from '../delta/forge.js';
import { hashBytes } from '../../src/image/hash.js';
import { nodeHasher } from '../../src/image/source.node.js';
import { loadImageInputs, runImagePatch, type ImageInputs } from './image.js';

let inputs: ImageInputs;
beforeAll(async () => {
  inputs = await loadImageInputs();
}, 120_000);

const enc = new TextEncoder();
const dec = new TextDecoder();
const pad = (n: number) => (512 - (n % 512)) % 512;

function fixTarChecksum(h: Uint8Array): void {
  const b = h.subarray(h.length - 512);
  b.fill(0x20, 148, 156);
  b.set(enc.encode(b.reduce((n, x) => n + x, 0).toString(8).padStart(6, '0') + '\0 '), 148);
}

const index = (p: ForgedPatch, pred: (name: string) => boolean) => {
  const i = p.entries.findIndex((e) => pred(e.record.name));
  expect(i, 'entry').toBeGreaterThanOrEqual(0);
  return i;
};
const swap = (p: ForgedPatch, i: number, j: number) => ([p.entries[i], p.entries[j]] = [p.entries[j], p.entries[i]]);
const drop = (p: ForgedPatch, i: number) => {
  const [e] = p.entries.splice(i, 1);
  p.header.new.entries -= 1;
  p.header.new.archiveSize -= e.tarHeader.length + e.record.size + pad(e.record.size);
};
const repeat = (p: ForgedPatch, i: number, to: number) => {
  const e = p.entries[i];
  p.entries.splice(to, 0, { record: { ...e.record }, tarHeader: e.tarHeader.slice(), data: e.data?.slice(), frames: e.frames.map((f) => ({ ...f })) });
  p.header.new.entries += 1;
  p.header.new.archiveSize += e.tarHeader.length + e.record.size + pad(e.record.size);
};
/** A second entry of entry i's name at the end of the archive, its data changed by `edit`: tar readers that extract keep the last. */
const shadow = (p: ForgedPatch, i: number, edit: (data: Uint8Array) => Uint8Array) => {
  const at = dataOffsets(p)[i];
  const data = p.entries[i].data?.slice() ?? inputs.neu.slice(at, at + p.entries[i].record.size);
  repeat(p, i, p.entries.length);
  const last = p.entries.length - 1;
  if (p.entries[last].record.kind !== 'literal') asLiteral(p, last, data);
  setData(p, last, edit(data));
};
const replaceText = (from: string, to: string) => (data: Uint8Array) => {
  const text = dec.decode(data);
  expect(text).toContain(from);
  return enc.encode(text.replace(from, to));
};
/** `blocks` (each 512 bytes) in front of entry i's tar header. */
const blocksBefore = (p: ForgedPatch, i: number, blocks: Uint8Array) => {
  const e = p.entries[i];
  e.tarHeader = Uint8Array.from([...blocks, ...e.tarHeader]);
  p.header.new.archiveSize += blocks.length;
};
const setTrailer = (p: ForgedPatch, t: Uint8Array) => {
  p.header.new.archiveSize += t.length - p.trailer.length;
  p.trailer = t;
};
/** Write `text` into entry i's ustar header at `at` (checksum fixed). */
const tarField = (p: ForgedPatch, i: number, at: number, text: string) => {
  const h = p.entries[i].tarHeader;
  h.set(enc.encode(text), h.length - 512 + at);
  fixTarChecksum(h);
};
const isLayer = (n: string) => n.endsWith('/layer.tar');
const isVersion = (n: string) => n.endsWith('/VERSION');
const isV1Json = (n: string) => n.endsWith('/json');
const isConfig = (n: string) => /^[0-9a-f]{64}\.json$/.test(n);

/** [name, forgery, and for some: 'refused' (docker load could not read the archive; apply refuses it too)]. */
const FORGERIES: Array<[string, (p: ForgedPatch) => void, 'refused'?]> = [
  ['trailer: one more zero block', (p) => setTrailer(p, new Uint8Array(p.trailer.length + 512))],
  ['trailer: one zero block instead of two', (p) => setTrailer(p, new Uint8Array(512))],
  ['trailer: no end blocks at all', (p) => setTrailer(p, new Uint8Array(0))],
  ['trailer: garbage after the end blocks', (p) => setTrailer(p, Uint8Array.from([...p.trailer, ...enc.encode('garbage after the end'.repeat(30))]))],
  ['trailer: a non-zero byte in the second end block', (p) => setTrailer(p, Uint8Array.from(p.trailer, (b, i) => (i === 700 ? 1 : b))), 'refused'],
  ['trailer: one zero block and part of another', (p) => setTrailer(p, new Uint8Array(700)), 'refused'],
  ['a zero block before the last entry', (p) => blocksBefore(p, p.entries.length - 1, new Uint8Array(512)), 'refused'],
  ['a zero block before manifest.json', (p) => blocksBefore(p, index(p, (n) => n === 'manifest.json'), new Uint8Array(512)), 'refused'],
  ['two zero blocks before the last entry (repositories)', (p) => blocksBefore(p, p.entries.length - 1, new Uint8Array(1024))],
  ['a block of garbage before a layer.tar', (p) => blocksBefore(p, index(p, isLayer), new Uint8Array(512).fill(0x41))],
  ['two layer.tar entries swapped', (p) => swap(p, index(p, isLayer), p.entries.length - 1 - [...p.entries].reverse().findIndex((e) => isLayer(e.record.name)))],
  ['a layer.tar swapped with its json', (p) => swap(p, index(p, isLayer), index(p, isLayer) - 1)],
  ['manifest.json moved to the front', (p) => p.entries.unshift(...p.entries.splice(index(p, (n) => n === 'manifest.json'), 1))],
  ['config moved to the end', (p) => p.entries.push(...p.entries.splice(index(p, isConfig), 1))],
  ['a VERSION file changed', (p) => void (p.entries[index(p, isVersion)].data![0] = 0x32)],
  ['a legacy v1 json changed', (p) => setData(p, index(p, isV1Json), enc.encode(dec.decode(p.entries[index(p, isV1Json)].data!).replace('"os"', '"OS"')))],
  ['repositories changed', (p) => setData(p, index(p, (n) => n === 'repositories'), enc.encode('{}'))],
  ['repositories dropped', (p) => drop(p, index(p, (n) => n === 'repositories'))],
  ['a VERSION file dropped', (p) => drop(p, index(p, isVersion))],
  ['a layer directory entry dropped', (p) => drop(p, index(p, (n) => n.endsWith('/') && n.length === 65))],
  ['manifest.json repeated at the end', (p) => repeat(p, index(p, (n) => n === 'manifest.json'), p.entries.length)],
  ['a layer.tar repeated', (p) => repeat(p, index(p, isLayer), index(p, isLayer) + 1)],
  ['an extra file (a VERSION copy renamed)', (p) => {
    repeat(p, index(p, isVersion), p.entries.length);
    tarField(p, p.entries.length - 1, 0, 'extra-file\0'.padEnd(100, '\0'));
    p.entries[p.entries.length - 1].record.name = 'extra-file';
  }],
  ['a second manifest.json at the end, another tag', (p) => shadow(p, index(p, (n) => n === 'manifest.json'), replaceText('dp-fixture/small:v2', 'dp-fixture/evil:v2'))],
  ['a second manifest.json at the end, other layers', (p) => shadow(p, index(p, (n) => n === 'manifest.json'), (d) => {
    const m = JSON.parse(dec.decode(d));
    m[0].Layers = [...m[0].Layers].reverse();
    return enc.encode(JSON.stringify(m));
  })],
  ['a second config (same name) at the end, Cmd changed', (p) => shadow(p, index(p, isConfig), replaceText('"/app/bin/run.sh"', '"/app/bin/pwn.sh"'))],
  ['a second layer.tar (same name) at the end, one byte changed', (p) => shadow(p, index(p, isLayer), (d) => ((d[1000] ^= 1), d))],
  // The archive's tags must be the header's (what apply reports): docker load would set them.
  ['manifest.json RepoTags changed', (p) => setData(p, index(p, (n) => n === 'manifest.json'), replaceText('dp-fixture/small:v2', 'dp-fixture/evil:v2')(p.entries[index(p, (n) => n === 'manifest.json')].data!)), 'refused'],
  // Tags are the patch author's word, like the header: accepted, and reported by apply as the tags it loads.
  ['manifest.json RepoTags changed, header tags too', (p) => {
    setData(p, index(p, (n) => n === 'manifest.json'), replaceText('dp-fixture/small:v2', 'dp-fixture/evil:v2')(p.entries[index(p, (n) => n === 'manifest.json')].data!));
    p.header.new.tags = ['dp-fixture/evil:v2'];
  }],
  ['tar mtime of a layer.tar', (p) => tarField(p, index(p, isLayer), 136, '00000000001\0')],
  ['tar mode of the config', (p) => tarField(p, index(p, isConfig), 100, '0000777\0')],
  ['tar uname of manifest.json', (p) => tarField(p, index(p, (n) => n === 'manifest.json'), 265, 'evil\0')],
  ['tar typeflag of a layer.tar: contiguous file (7)', (p) => tarField(p, index(p, isLayer), 156, '7'), 'refused'],
  ['tar typeflag of repositories: a vendor type (X)', (p) => tarField(p, index(p, (n) => n === 'repositories'), 156, 'X'), 'refused'],
  ['tar typeflag of a layer.tar: hard link (1) to itself', (p) => tarField(p, index(p, isLayer), 156, '1')],
];

describe('a whole other image, every name and digest following', () => {
  it('is accepted only without NEW (the header is the forger\'s word); with NEW it is refused', async () => {
    const p = decodePatch(inputs.patch);
    const c = index(p, isConfig);
    const config = replaceText('"/app/bin/run.sh"', '"/app/bin/pwn.sh"')(p.entries[c].data!);
    const hex = hashBytes(nodeHasher, config).slice('sha256:'.length);
    const oldName = p.entries[c].record.name;
    tarField(p, c, 0, `${hex}.json`);
    p.entries[c].record.name = `${hex}.json`;
    setData(p, c, config);
    const m = index(p, (n) => n === 'manifest.json');
    setData(p, m, replaceText(oldName, `${hex}.json`)(p.entries[m].data!));
    p.header.new.imageId = `sha256:${hex}`;
    const r = await runImagePatch(inputs, encodePatch(p), 'other image');
    expect(r.outcome, r.detail).toBe('wrong-output-unanchored');
    expect(r.detail).toMatch(/not .*ef00d94482b9/);
  }, 60_000);
});

describe('layout forgeries with every digest recomputed, applied with NEW', () => {
  const table: string[] = [];
  it.each(FORGERIES)('%s: refused, or the same image in other archive bytes', async (name, forge, expected) => {
    const p = decodePatch(inputs.patch);
    forge(p);
    // DP_FUZZ_LAYOUT_DUMP=DIR keeps each accepted archive there (to try with docker load by hand).
    const dump = process.env.DP_FUZZ_LAYOUT_DUMP;
    const keep = dump ? (out: Uint8Array) => writeFileSync(join(dump, `${FORGERIES.findIndex(([n]) => n === name)}.tar`), out) : undefined;
    const r = await runImagePatch(inputs, encodePatch(p), name, 20_000, keep);
    table.push(`${name.padEnd(52)} ${r.outcome.padEnd(28)} ${r.detail ?? ''}`);
    const refused = ['error:BAD_PATCH', 'error:DIGEST_MISMATCH', 'error:WRONG_IMAGE', 'error:BAD_IMAGE'];
    expect(expected === 'refused' ? refused : [...refused, 'same-image-different-bytes', 'same-image-other-tags'], `${r.outcome}: ${r.detail}`).toContain(r.outcome);
  }, 60_000);
  it('prints the table', () => {
    console.log(`layout forgeries (outcome, detail):\n${table.join('\n')}`);
    expect(table.length).toBe(FORGERIES.length);
  });
});
