// The platform-neutral entry must bundle for browsers as a user's bundler
// sees the package: `import { createPatch, applyPatch } from 'docker-patcher'`
// resolved through package.json (exports, browser map) to the built dist/,
// with no Node built-in left in the bundle.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as esbuild from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../fixtures/shared.js';

const dir = mkdtempSync(join(tmpdir(), 'dp-bundle-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A user's project: node_modules/docker-patcher is this package, as `npm install <path>` links it. */
function userProject(source: string): string {
  mkdirSync(join(dir, 'node_modules'), { recursive: true });
  symlinkSync(REPO_ROOT, join(dir, 'node_modules', 'docker-patcher'));
  const entry = join(dir, 'entry.js');
  writeFileSync(entry, source);
  return entry;
}

describe('browser bundle of docker-patcher', () => {
  it('esbuild --bundle --platform=browser succeeds and pulls in no node: module', async () => {
    const entry = userProject(
      "import { createPatch, applyPatch, inspectPatch, browserHasher } from 'docker-patcher';\n" +
      'globalThis.api = { createPatch, applyPatch, inspectPatch, browserHasher };\n',
    );
    const result = await esbuild.build({
      entryPoints: [entry],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    expect(result.errors).toEqual([]);
    const inputs = Object.keys(result.metafile.inputs);
    // It really bundled the built package, with the browser swaps applied.
    expect(inputs.some((f) => f.endsWith('dist/delta/create.js'))).toBe(true);
    expect(inputs.some((f) => f.endsWith('dist/delta/runner.browser.js'))).toBe(true);
    expect(inputs.filter((f) => /\.node\.js$|node:/.test(f))).toEqual([]);
    const code = result.outputFiles[0].text;
    expect(code).not.toMatch(/["']node:[a-z_/]+["']/);
    expect(code).not.toMatch(/\bworker_threads\b/);
  });
});
