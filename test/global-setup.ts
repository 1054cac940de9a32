// Builds the package once, before any test file runs, when the build is
// missing or older than its sources. Tests never build: a rebuild clears
// dist/ and web/dist/, and test files run two at a time, so a test that
// rebuilt would pull the files out from under its neighbour (CI saw
// "Cannot find module dist/cli/main.js" that way).
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');

/** Newest modification time of the source files below `dir` (its own build output, dist/, left out). */
function newest(dir: string): number {
  let t = 0;
  for (const name of readdirSync(dir, { recursive: true }) as string[]) {
    if (name === 'dist' || name.startsWith('dist/')) continue;
    const s = statSync(join(dir, name));
    if (s.isFile()) t = Math.max(t, s.mtimeMs);
  }
  return t;
}

/** What is built, from what: a product is stale when it is missing or older than any of its sources. */
const PRODUCTS: [product: string, sources: string[]][] = [
  ['build/diffcore.wasm', ['assembly']],
  ['dist/cli/main.js', ['src']],
  ['web/dist/worker.js', ['web', 'src', 'assembly']],
];

export default function setup(): void {
  const stale = PRODUCTS.filter(([product, sources]) => {
    const at = join(ROOT, product);
    if (!existsSync(at)) return true;
    const built = statSync(at).mtimeMs;
    return sources.some((dir) => newest(join(ROOT, dir)) > built);
  });
  if (stale.length === 0) return;
  console.log(`test setup: ${stale.map(([p]) => p).join(', ')} missing or older than the sources; running npm run build`);
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' });
}
