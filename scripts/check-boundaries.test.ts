import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkBoundaries, findSpecifiers, formatReport, type Violation } from './check-boundaries';

const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

interface Pkg {
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

/**
 * A small monorepo: @fx/a (no deps), @fx/b (-> a), @fx/c (dev -> a, b) in packages/, plus root files.
 * `files` replaces or adds files (path -> contents; package.json files as objects). Sources spell
 * `../` as `PARENT/`, so this test file holds no relative path into another package itself (the
 * repository's own import scanners would read one as a real cross-workspace import).
 */
function fixture(files: Record<string, string | Pkg> = {}): string {
  const root = mkdtempSync(join(tmpdir(), 'boundaries-'));
  roots.push(root);
  const all: Record<string, string | Pkg> = {
    'package.json': { devDependencies: { '@fx/a': '*' } },
    'packages/a/package.json': {},
    'packages/a/src/index.ts': "export { helper } from './helper';\nexport const a = 1;\n",
    'packages/a/src/helper.ts': 'export const helper = () => 2;\n',
    'packages/b/package.json': { dependencies: { '@fx/a': '*', valibot: '^1' } },
    'packages/b/src/index.ts': "import { a } from '@fx/a';\nimport * as v from 'valibot';\nexport const b = a + Number(v);\n",
    'packages/c/package.json': { devDependencies: { '@fx/a': '*', '@fx/b': '*' } },
    'packages/c/test/c.test.ts': "import { b } from '@fx/b';\nimport { helper } from '@fx/a/src/helper';\nexport default b + helper();\n",
    'scripts/tool.ts': "import { a } from '@fx/a';\nimport { readFileSync } from 'node:fs';\nconsole.log(a, readFileSync);\n",
    // Never walked: dependencies and build output may do anything.
    'node_modules/x/index.ts': "import 'PARENT/PARENT/packages/a/src/index';\n",
    'packages/b/dist/index.js': "import 'PARENT/PARENT/a/src/index.js';\n",
    ...files,
  };
  for (const [path, contents] of Object.entries(all)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    if (typeof contents === 'string') writeFileSync(join(root, path), contents.replaceAll('PARENT/', '../'));
    else {
      const name = path === 'package.json' ? 'fx-root' : `@fx/${path.split('/')[1]}`;
      const extra = path === 'package.json' ? { workspaces: ['packages/*'] } : {};
      writeFileSync(join(root, path), JSON.stringify({ name, private: true, ...extra, ...contents }, null, 2) + '\n');
    }
  }
  return root;
}

const brief = (vs: Violation[]) => vs.map((v) => `${v.kind} ${v.file}:${v.line}`);

describe('check-boundaries', () => {
  it('passes a clean tree and prints the package graph', () => {
    const report = checkBoundaries(fixture());
    expect(report.violations).toEqual([]);
    expect(report.filesChecked).toBe(5);
    const text = formatReport(report);
    expect(text).toContain('@fx/b (packages/b) -> @fx/a');
    expect(text).toContain('@fx/c (packages/c) -> [dev] @fx/a, [dev] @fx/b');
    expect(text).toContain('fx-root (root)');
    expect(text).toMatch(/Boundaries OK/);
  });

  it('catches relative imports into another workspace, in every import form', () => {
    const root = fixture({
      'packages/b/src/deep.ts': [
        "import { a } from 'PARENT/PARENT/a/src/index';", // 1: static import
        "export { helper } from 'PARENT/PARENT/a/src/helper';", // 2: re-export
        "const lazy = () => import('PARENT/PARENT/a/src/index');", // 3: dynamic import
        "vi.mock('PARENT/PARENT/a/src/helper', () => ({}));", // 4: vi.mock
        "const r = require('PARENT/PARENT/a/src/index');", // 5: require
        "type T = typeof import('PARENT/PARENT/a/src/index');", // 6: import type
        "import { b } from './index';", // 7: same workspace: fine
        "// import 'PARENT/PARENT/a/src/index' in a comment does not count", // 8
        "const s = `require('PARENT/PARENT/a/src/index')`;", // 9: nor in a string
        'export { a, lazy, r, b, s, type T };',
      ].join('\n'),
      // The root workspace (scripts/, e2e/, root files) must import packages by name too.
      'scripts/bad.ts': "import { a } from 'PARENT/packages/a/src/index';\nexport default a;\n",
      'e2e/x.spec.ts':
        "\n\nimport { createRequire } from 'node:module';\ncreateRequire(import.meta.url).resolve('PARENT/packages/b/src/index');\n",
      // ... and packages must not reach up into the root workspace.
      'packages/a/src/up.ts': "export * from 'PARENT/PARENT/PARENT/scripts/tool';\n",
    });
    const { violations } = checkBoundaries(root);
    expect(brief(violations)).toEqual([
      'relative e2e/x.spec.ts:4',
      'relative packages/a/src/up.ts:1',
      'relative packages/b/src/deep.ts:1',
      'relative packages/b/src/deep.ts:2',
      'relative packages/b/src/deep.ts:3',
      'relative packages/b/src/deep.ts:4',
      'relative packages/b/src/deep.ts:5',
      'relative packages/b/src/deep.ts:6',
      'relative scripts/bad.ts:1',
    ]);
    expect(violations[2].message).toContain('from @fx/b (packages/b) into @fx/a (packages/a)');
    expect(formatReport({ ...checkBoundaries(root) })).toContain('packages/b/src/deep.ts:3: cross-workspace relative import');
  });

  it('catches imports of workspace packages that package.json does not declare (subpaths and the root too)', () => {
    const root = fixture({
      'packages/a/src/uses-b.ts': "\nimport type { b } from '@fx/b/src/index';\nexport type B = typeof b;\n", // a declares nothing
      'packages/b/test/c.test.ts': "const c = await import('@fx/c');\nexport { c };\n", // b declares only a
      'scripts/tool2.ts': "import { b } from '@fx/b';\nexport { b };\n", // root declares only a
      'packages/c/src/ghost.ts': "import '@fx/ghost';\n", // a scope name that is no workspace at all
      'packages/b/src/self.ts': "export * from '@fx/b';\n", // a package may import itself by name
    });
    const { violations } = checkBoundaries(root);
    expect(brief(violations)).toEqual([
      'undeclared packages/a/src/uses-b.ts:2',
      'undeclared packages/b/test/c.test.ts:1',
      'undeclared packages/c/src/ghost.ts:1',
      'undeclared scripts/tool2.ts:1',
    ]);
    expect(violations[0].message).toBe(
      "imports '@fx/b/src/index' but packages/a/package.json does not declare @fx/b (dependencies or devDependencies)",
    );
    expect(violations[3].message).toContain('but package.json does not declare @fx/b');
  });

  it('catches a cycle in the declared workspace dependencies, devDependencies included', () => {
    const root = fixture({ 'packages/a/package.json': { devDependencies: { '@fx/c': '*' } } });
    const { violations } = checkBoundaries(root);
    expect(violations).toEqual([
      { kind: 'cycle', file: 'packages/a/package.json', line: 5, message: 'workspace dependency cycle: @fx/a -> @fx/c -> @fx/a' },
    ]);
    // A longer one, through runtime dependencies only: a -> c -> b -> a.
    const root2 = fixture({
      'packages/a/package.json': { dependencies: { '@fx/c': '*' } },
      'packages/c/package.json': { dependencies: { '@fx/b': '*' } },
      'packages/c/test/c.test.ts': "import { b } from '@fx/b';\nexport default b;\n",
    });
    expect(checkBoundaries(root2).violations.map((v) => v.message)).toEqual([
      'workspace dependency cycle: @fx/a -> @fx/c -> @fx/b -> @fx/a',
    ]);
  });

  it('reads specifiers from the syntax tree, with their lines', () => {
    const src = [
      "import x from 'x';",
      "import 'side-effect';",
      "export * as y from './y';",
      'const z = await import(`./z`);',
      // eslint-disable-next-line no-template-curly-in-string -- the source text of a template literal
      'const w = await import(`./${name}`);', // not a literal: skipped
      "vi.doMock('m'); vi.importActual('n');",
      "require.resolve('o'); import.meta.resolve('p');",
      "import q = require('q');",
      "// require('comment')",
    ].join('\n');
    expect(findSpecifiers('f.ts', src)).toEqual([
      { specifier: 'x', line: 1 },
      { specifier: 'side-effect', line: 2 },
      { specifier: './y', line: 3 },
      { specifier: './z', line: 4 },
      { specifier: 'm', line: 6 },
      { specifier: 'n', line: 6 },
      { specifier: 'o', line: 7 },
      { specifier: 'p', line: 7 },
      { specifier: 'q', line: 8 },
    ]);
    const vue =
      '<template>\n  <p>{{ a }}</p>\n</template>\n<script setup lang="ts">\nimport { a } from \'PARENT/PARENT/a/src\';\n</script>\n';
    expect(findSpecifiers('c.vue', vue)).toEqual([{ specifier: 'PARENT/PARENT/a/src', line: 5 }]);
  });
});
