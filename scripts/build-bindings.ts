/**
 * Builds the framework bindings (@vitrine/react, @vitrine/vue) to `packages/<name>/dist`:
 * `index.js` (ESM, one file, @vitrine/storefront inlined; the SDK and the framework stay imports)
 * and `index.d.ts` (storefront's types inlined too, since it is never published). Prints each
 * package's gzip size. A binding whose `src/index.ts` does not exist yet is skipped.
 *
 * Usage: `tsx scripts/build-bindings.ts [react|vue ...]` (default: both). Runs after the SDK build
 * (`npm run build`), though it does not read the SDK's dist.
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { rollup } from 'rollup';
import dts from 'rollup-plugin-dts';

const ROOT = resolve(fileURLToPath(import.meta.url), '../..');
export const BINDINGS = ['react', 'vue'] as const;
/** Imports that stay imports: the shop installs the SDK and its framework itself. */
export const EXTERNAL = ['@vitrine/sdk', 'react', 'react/jsx-runtime', 'react-dom', 'vue'];
const isExternal = (id: string) => EXTERNAL.some((name) => id === name || id.startsWith(`${name}/`));

export interface BindingBuild {
  name: string;
  bytes: number;
  gzipBytes: number;
}

export async function buildBinding(name: string, root = ROOT): Promise<BindingBuild | null> {
  const dir = join(root, 'packages', name);
  const entry = join(dir, 'src/index.ts');
  if (!existsSync(entry)) return null;
  const dist = join(dir, 'dist');
  rmSync(dist, { recursive: true, force: true });
  mkdirSync(dist, { recursive: true });
  const js = join(dist, 'index.js');
  await build({
    entryPoints: [entry],
    outfile: js,
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    // Workspace packages resolve to their sources (storefront has no build of its own).
    conditions: ['source'],
    mainFields: ['module', 'main'],
    external: EXTERNAL,
    minify: true,
    sourcemap: true,
    legalComments: 'none',
    logLevel: 'warning',
  });
  const bundle = await rollup({
    input: entry,
    external: isExternal,
    plugins: [dts({ tsconfig: join(root, 'tsconfig.json'), includeExternal: ['@vitrine/storefront'] })],
  });
  await bundle.write({ file: join(dist, 'index.d.ts'), format: 'es' });
  await bundle.close();
  const code = readFileSync(js);
  const types = readFileSync(join(dist, 'index.d.ts'), 'utf8');
  if (/@vitrine\/storefront/.test(code.toString()) || /@vitrine\/storefront/.test(types)) {
    throw new Error(`packages/${name}/dist still imports @vitrine/storefront: it must be inlined (it is never published)`);
  }
  return { name: `@vitrine/${name}`, bytes: code.length, gzipBytes: gzipSync(code, { level: 9 }).length };
}

async function main(): Promise<void> {
  const names = process.argv.slice(2);
  for (const name of names.length ? names : BINDINGS) {
    const built = await buildBinding(name);
    if (!built) {
      console.log(`packages/${name}: no src/index.ts, skipped`);
      continue;
    }
    console.log(`${built.name}: dist/index.js ${built.bytes} B, ${built.gzipBytes} B gzip (without the SDK and the framework)`);
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
