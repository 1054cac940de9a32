// Regenerates test/fixtures/goflate-go119.json: Go's output hashes for the
// inputs of inputs.mjs. Needs Go (Debian golang-go 1.19):
//   node test/fixtures-gen/goflate/gen.mjs
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { goflateInputs } from './inputs.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'goflate-'));
try {
  const args = [];
  for (const [name, bytes, levels] of goflateInputs()) {
    writeFileSync(join(dir, name), bytes);
    args.push(`${join(dir, name)}:${levels.join(',')}`);
  }
  const version = execFileSync('go', ['version'], { encoding: 'utf8' }).trim();
  const out = execFileSync('go', ['run', 'main.go', ...args], { cwd: here, encoding: 'utf8', maxBuffer: 1 << 26, env: { ...process.env, GO111MODULE: 'off', GOFLAGS: '' } });
  const rows = out.trim().split('\n').map((l) => JSON.parse(l)).map((r) => ({ ...r, file: r.file.slice(dir.length + 1) }));
  writeFileSync(join(here, '../../fixtures/goflate-go119.json'), JSON.stringify({ go: version, rows }, null, 0).replace(/\},\{/g, '},\n{') + '\n');
  console.log(`${rows.length} rows from ${version}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
