/**
 * What `npm pack` of @vitrine/react and @vitrine/vue ships: the built module, its types, README and
 * licence; the SDK and the framework as peer dependencies (never bundled, never a dependency), the
 * private @vitrine/storefront inlined (no import of it survives), and an import that is safe on a
 * server (Node, no DOM). Needs `npm run build`; skipped with a message without it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..');
/** Budget for each binding's dist/index.js, gzip -9, SDK and framework excluded (the READMEs give the measured size). */
const BINDING_BUDGET = 4 * 1024;
const FRAMEWORK = { react: 'react', vue: 'vue' } as const;

for (const name of ['react', 'vue'] as const) {
  const dir = join(ROOT, 'packages', name);
  const built = ['index.js', 'index.d.ts'].every((f) => existsSync(join(dir, 'dist', f)));
  if (!built)
    console.warn(`scripts/bindings.test.ts: @vitrine/${name} skipped: packages/${name}/dist is not built (run \`npm run build\`)`);

  describe.skipIf(!built)(`@vitrine/${name} as published`, () => {
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    const code = () => readFileSync(join(dir, 'dist', 'index.js'), 'utf8');

    it('packs the build (with its source map), README and licence only', { timeout: 60_000 }, () => {
      const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: dir, encoding: 'utf8', stdio: 'pipe' });
      const files = (JSON.parse(out)[0].files as { path: string }[]).map((f) => f.path).sort();
      expect(files).toEqual(['LICENSE', 'README.md', 'dist/index.d.ts', 'dist/index.js', 'dist/index.js.map', 'package.json']);
    });

    it('keeps the SDK and the framework as peers and inlines the private storefront core', () => {
      expect(Object.keys(manifest.peerDependencies).sort()).toEqual(['@vitrine/sdk', FRAMEWORK[name]].sort());
      expect(manifest.dependencies ?? {}).toEqual({});
      expect(manifest.exports['.']).toMatchObject({ types: './dist/index.d.ts', import: './dist/index.js' });
      expect(manifest.license).toBe('Apache-2.0');
      const imports = [...code().matchAll(/\bfrom\s*["']([^"']+)["']/g)].map((m) => m[1]);
      expect(
        imports.every((s) => s === '@vitrine/sdk' || s === FRAMEWORK[name] || s.startsWith(`${FRAMEWORK[name]}/`)),
        imports.join(),
      ).toBe(true);
      expect(code()).not.toContain('@vitrine/storefront');
      expect(readFileSync(join(dir, 'dist', 'index.d.ts'), 'utf8')).not.toContain('@vitrine/storefront');
    });

    it(`stays within ${BINDING_BUDGET / 1024} KB gzip`, () => {
      const gzip = gzipSync(readFileSync(join(dir, 'dist', 'index.js')), { level: 9 }).length;
      console.log(`@vitrine/${name} dist/index.js: ${gzip} B gzip`);
      expect(gzip).toBeLessThanOrEqual(BINDING_BUDGET);
    });

    it('imports on a server (Node, no window, no IndexedDB) without touching the browser', { timeout: 60_000 }, () => {
      // A fresh Node process: nothing from this test runner's globals leaks in.
      const script = `const m = await import(${JSON.stringify(join(dir, 'dist', 'index.js'))});
        const leaked = ['window', 'document', 'indexedDB'].filter((g) => typeof globalThis[g] !== 'undefined');
        if (leaked.length) throw new Error('browser globals appeared: ' + leaked);
        console.log(Object.keys(m).sort().join(','));`;
      const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' });
      expect(out).toContain('useRanking');
      expect(out).toContain('useVitrine');
    });
  });
}
