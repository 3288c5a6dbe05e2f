/**
 * What `npm pack` of packages/sdk ships (issue #14): the files a shop needs and nothing else, a
 * manifest that points only at shipped files, no runtime dependency on what dist/ bundles, legal
 * comments once (THIRD_PARTY_NOTICES.md) and no Node built-in in the browser code. Packs a copy of
 * the package (so `prepack`/`postpack` never touch the tree other tests resolve), installs the
 * tarball offline into an empty app, `require()`s and type-checks it. Needs the build (`npm test`
 * runs it first); skipped with a message without one.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { gzipSync } from 'node:zlib';
import { parseAst } from 'rollup/parseAst';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const SDK = join(import.meta.dirname, '..', 'packages', 'sdk');
const built = ['index.js', 'index.d.ts', 'vitrine.min.js'].every((f) => existsSync(join(SDK, 'dist', f)));
if (!built) console.warn('scripts/package.test.ts skipped: packages/sdk/dist is not built (run `npm run build`)');

/** What the bundle contains: none of these may be a dependency of the published package. */
const BUNDLED = ['@tensorflow/', 'idb', 'valibot', 'node-fetch', 'long', 'seedrandom', '@vitrine/'];
const NODE_BUILTINS = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
// This machine's npm config warns about a setting npm is dropping: not about the package.
const machineWarning = (line: string) => /Unknown (user|env|project|global) config/.test(line);

const npm = (args: string[], cwd: string) =>
  execFileSync('npm', args, {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, npm_config_loglevel: 'warn' },
  });

interface PackResult {
  size: number;
  unpackedSize: number;
  files: { path: string; size: number }[];
}

function walk(node: unknown, visit: (n: Record<string, unknown>) => void) {
  if (Array.isArray(node)) node.forEach((n) => walk(n, visit));
  else if (node && typeof node === 'object') {
    visit(node as Record<string, unknown>);
    for (const v of Object.values(node)) walk(v, visit);
  }
}

/** Module specifiers a JS file imports (static, dynamic with a literal, re-exports) and its require() calls. */
function references(code: string) {
  const specifiers: string[] = [];
  let requires = 0;
  walk(parseAst(code), (n) => {
    const source = n.source as { type?: string; value?: unknown } | undefined;
    if (/^(ImportDeclaration|ExportNamedDeclaration|ExportAllDeclaration|ImportExpression)$/.test(String(n.type))) {
      if (source?.type === 'Literal' && typeof source.value === 'string') specifiers.push(source.value);
    }
    const callee = n.callee as { type?: string; name?: string } | undefined;
    if (n.type === 'CallExpression' && callee?.type === 'Identifier' && callee.name === 'require') requires++;
  });
  return { specifiers, requires };
}

describe.skipIf(!built)('npm pack of @vitrine/sdk', () => {
  let work: string;
  let pack: PackResult;
  let manifest: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  let installed: string;

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'vitrine-pack-'));
    const copy = join(work, 'sdk');
    cpSync(SDK, copy, { recursive: true, filter: (src) => !src.includes('node_modules') });
    [pack] = JSON.parse(npm(['pack', '--json', '--pack-destination', work], copy)) as PackResult[];
    const tgz = readdirSync(work).find((f) => f.endsWith('.tgz'))!;
    const app = join(work, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
    npm(['install', '--offline', '--no-audit', '--no-fund', join(work, tgz)], app);
    installed = join(app, 'node_modules', '@vitrine', 'sdk');
    manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8'));
    const installKiB = execFileSync('du', ['-sk', join(app, 'node_modules')], { encoding: 'utf8' }).split('\t')[0];
    console.log(`@vitrine/sdk tarball ${pack.size} B, unpacked ${pack.unpackedSize} B; an app's node_modules with it: ${installKiB} KiB`);
  }, 120_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('ships README, LICENSE, third-party notices, the global types and the build: no sources or tests', () => {
    const paths = pack.files.map((f) => f.path);
    for (const f of [
      'README.md',
      'LICENSE',
      'dist/THIRD_PARTY_NOTICES.md',
      'global.d.ts',
      'dist/index.js',
      'dist/index.d.ts',
      'dist/vitrine.min.js',
    ]) {
      expect(paths).toContain(f);
    }
    expect(paths.filter((p) => p.endsWith('.wasm'))).toHaveLength(3);
    expect(paths.filter((p) => /^(src|test|scripts)\/|\.test\.|\.spec\./.test(p))).toEqual([]);
    expect(readFileSync(join(installed, 'LICENSE'), 'utf8')).toContain('Apache License');
    const notices = readFileSync(join(installed, 'dist', 'THIRD_PARTY_NOTICES.md'), 'utf8');
    for (const p of ['@tensorflow/tfjs-core', 'idb', 'valibot']) expect(notices).toContain(`- ${p} `);
  });

  it('publishes with public access, repository and licence, and depends on nothing it bundles', () => {
    expect(manifest.publishConfig?.access).toBe('public');
    expect(manifest.repository?.url).toMatch(/^git\+https:\/\//);
    expect(manifest.license).toBe('Apache-2.0');
    const deps = Object.keys({ ...manifest.dependencies, ...manifest.peerDependencies, ...manifest.optionalDependencies });
    expect(deps.filter((d) => BUNDLED.some((b) => d === b || d.startsWith(b)))).toEqual([]);
    // dist imports only its own files, so a runtime dependency would be dead weight for shops.
    expect(deps).toEqual([]);
    expect(manifest.scripts).toBeUndefined();
  });

  it('exports types/import/default, ./package.json and ./global, and no target it does not ship', () => {
    const exp = manifest.exports;
    expect(Object.keys(exp['.'])).toEqual(['types', 'import', 'default']);
    expect(exp['./package.json']).toBe('./package.json');
    expect(exp['./global']).toEqual({ types: './global.d.ts' });
    expect(JSON.stringify(exp)).not.toContain('"source"');
    expect(exp['./internals']).toBeUndefined();
    const targets: string[] = [];
    walk(exp, (n) => Object.values(n).forEach((v) => typeof v === 'string' && targets.push(v)));
    for (const t of [...Object.values(exp).filter((v): v is string => typeof v === 'string'), ...targets, manifest.main, manifest.types]) {
      expect(existsSync(join(installed, t)), t).toBe(true);
    }
  });

  it('require()s and imports in Node from an app that installed the tarball', () => {
    const req = createRequire(join(installed, '..', '..', '..', 'index.js'));
    const script = `const m = require('@vitrine/sdk'); const p = require('@vitrine/sdk/package.json');
      console.log(JSON.stringify([Object.keys(m).sort(), p.version]))`;
    const out = execFileSync(process.execPath, ['-e', script], { cwd: join(installed, '..', '..', '..'), encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual([['VitrineError', 'createVitrine', 'version'], manifest.version]);
    expect(() => req.resolve('@vitrine/sdk/internals')).toThrow(/not defined by "exports"|PACKAGE_PATH_NOT_EXPORTED/);
  });

  it('type-checks a page that uses the script-tag globals (skipLibCheck off)', () => {
    const app = join(installed, '..', '..', '..');
    writeFileSync(
      join(app, 'page.ts'),
      `/// <reference types="@vitrine/sdk/global" />
import type { Vitrine } from '@vitrine/sdk';
(window.vitrineQueue ||= []).push(async (vitrine: Vitrine) => (await vitrine.rank([{ id: 'a', type: 'coupon' }])).items[0]?.id);
const ready: Promise<Vitrine> | undefined = window.Vitrine?.ready;
void window.Vitrine?.init({ model: '/m.json' }).then((v) => v.status.backend);
// @ts-expect-error not a backend
void window.Vitrine?.init({ model: '/m.json', backend: 'gpu' });
void ready;
`,
    );
    const compilerOptions = {
      strict: true,
      noEmit: true,
      lib: ['es2022', 'dom'],
      module: 'esnext',
      moduleResolution: 'bundler',
      types: [],
      skipLibCheck: false,
    };
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['page.ts'] }));
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    execFileSync(process.execPath, [tsc, '-p', app], { encoding: 'utf8' }); // throws with tsc's output on an error
  }, 60_000);

  it('keeps licence comments out of the code (once, in THIRD_PARTY_NOTICES.md) and Node built-ins out of dist', () => {
    const js = pack.files.map((f) => f.path).filter((p) => p.endsWith('.js'));
    for (const file of js) {
      const code = readFileSync(join(installed, file), 'utf8');
      expect((code.match(/@license/g) ?? []).length, file).toBeLessThanOrEqual(1);
      const { specifiers, requires } = references(code);
      expect(
        specifiers.filter((s) => NODE_BUILTINS.has(s)),
        file,
      ).toEqual([]);
      // Only its own files: a bare name would need a dependency (or, for a Node module, a bundler shim).
      expect(
        specifiers.filter((s) => !s.startsWith('./') && !s.startsWith('../')),
        file,
      ).toEqual([]);
      expect(requires, `${file}: require() calls`).toBe(0);
    }
  });

  it('publishes cleanly: npm publish --dry-run prints no warning', () => {
    const copy = join(work, 'sdk');
    // An unreachable registry with a dummy token: offline, and no "not logged in" warning.
    const registry = 'http://127.0.0.1:9/';
    const args = ['publish', '--dry-run', `--registry=${registry}`, '--//127.0.0.1:9/:_authToken=dummy', '--fetch-retries=0'];
    const res = execFileSync('sh', ['-c', `npm ${args.join(' ')} 2>&1`], { cwd: copy, encoding: 'utf8' });
    const warnings = res.split('\n').filter((l) => /npm (warn|WARN|error|ERR)/.test(l) && !machineWarning(l));
    expect(warnings).toEqual([]);
    expect(res).toContain('public access (dry-run)');
  }, 60_000);
});

/** Issue 13: JS a page downloads before its first rank on WebGPU, gzip -9 (the wasm binary is not JS). */
const INITIAL_BUDGET = 60 * 1024;
/** The scoring chunk (tfjs-core, the WebGPU backend, backend selection): every backend needs it before it ranks. */
const SCORING_CHUNK = /^chunks\/select-[^/]+\.js$/;
const FALLBACK_CHUNK = /^chunks\/(wasm|webgl|cpu)-[^/]+\.js$/;

/** Static imports and `import()` targets of a dist file, as dist-relative paths. */
function imports(file: string): { static: string[]; dynamic: string[] } {
  const out = { static: [] as string[], dynamic: [] as string[] };
  walk(parseAst(readFileSync(join(SDK, 'dist', file), 'utf8')), (n) => {
    const source = n.source as { type?: string; value?: unknown } | undefined;
    if (source?.type !== 'Literal' || typeof source.value !== 'string' || !source.value.startsWith('.')) return;
    const target = posix.normalize(posix.join(posix.dirname(file), source.value));
    if (n.type === 'ImportExpression') out.dynamic.push(target);
    else if (/^(ImportDeclaration|ExportNamedDeclaration|ExportAllDeclaration)$/.test(String(n.type))) out.static.push(target);
  });
  return out;
}

/** From `roots`, every file loaded through static imports and through `import()`s that `follow` accepts. */
function closure(roots: string[], follow: (file: string) => boolean): string[] {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const { static: s, dynamic: d } = imports(file);
    for (const f of [...s, ...d.filter(follow)]) visit(f);
  };
  roots.forEach(visit);
  return [...seen];
}

const gzipped = (file: string) => gzipSync(readFileSync(join(SDK, 'dist', file)), { level: 9 }).length;

describe.skipIf(!built)('initial JS of the built SDK', () => {
  it(`stays within ${INITIAL_BUDGET / 1024} KB gzip up to the first WebGPU rank; fallback backends stay lazy`, () => {
    // vitrine.min.js import()s index.js (by a URL it computes); index.js's chunk import()s the scoring chunk and lazier ones.
    const webgpu = closure(['vitrine.min.js', 'index.js'], (f) => SCORING_CHUNK.test(f));
    expect(webgpu.filter((f) => SCORING_CHUNK.test(f))).toHaveLength(1);
    expect(webgpu.filter((f) => FALLBACK_CHUNK.test(f))).toEqual([]);
    const sizes = Object.fromEntries(webgpu.map((f) => [f, gzipped(f)]));
    const total = Object.values(sizes).reduce((a, b) => a + b, 0);
    const wasm = closure(webgpu, (f) => /^chunks\/wasm-/.test(f)).filter((f) => !webgpu.includes(f));
    const wasmTotal = total + wasm.reduce((a, f) => a + gzipped(f), 0);
    console.log(`initial JS, gzip -9: webgpu ${total} B ${JSON.stringify(sizes)}; wasm ${wasmTotal} B (+ ${wasm.join(', ')})`);
    expect(total).toBeLessThanOrEqual(INITIAL_BUDGET);
  });

  it('bundles no tfjs io handler, model store, int64 or seeded-random code', () => {
    const code = readdirSync(join(SDK, 'dist', 'chunks'))
      .filter((f) => f.endsWith('.js'))
      .map((f) => readFileSync(join(SDK, 'dist', 'chunks', f), 'utf8'))
      .join('\n');
    // URL schemes of tfjs's localStorage / IndexedDB model stores, its http loader's error text, `long`'s parse error.
    for (const marker of ['localstorage://', 'indexeddb://', 'Failed to parse model JSON', 'interior hyphen']) {
      expect(code.includes(marker), marker).toBe(false);
    }
    // The notices list every package with code in dist/ (from the build's module list).
    const notices = readFileSync(join(SDK, 'dist', 'THIRD_PARTY_NOTICES.md'), 'utf8');
    expect(notices).toContain('- @tensorflow/tfjs-core ');
    for (const p of ['long', 'seedrandom']) expect(notices, p).not.toContain(`- ${p} `);
  });
});
