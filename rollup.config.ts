import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import type { Plugin, RollupOptions } from 'rollup';
import resolve from '@rollup/plugin-node-resolve';
import commonjs from '@rollup/plugin-commonjs';
import json from '@rollup/plugin-json';
import esbuild, { minify } from 'rollup-plugin-esbuild';
import dts from 'rollup-plugin-dts';
import integrity from './scripts/rollup-integrity';

const require = createRequire(import.meta.url);
const SDK = 'packages/sdk';
const OUT = `${SDK}/dist`;

/**
 * tfjs-core keeps its engine singleton on `window._tfGlobals` / `window._tfengine`. The SDK
 * promises the host page no global beyond `Vitrine`, and all our chunks share one bundled
 * copy of tfjs-core, so give it a module-private namespace instead of `window`.
 */
function privateTfjsGlobals(): Plugin {
  return {
    name: 'vitrine-private-tfjs-globals',
    transform(code, id) {
      if (!/tfjs-core[\\/]dist[\\/]global_util\.js$/.test(id)) return null;
      const patched = code.replace('export function getGlobalNamespace()', 'function windowGlobalNamespace()');
      if (patched === code) this.error('tfjs-core global_util.js changed: update the private-globals patch');
      return `${patched}\nconst vitrinePrivateNamespace = {};\nexport function getGlobalNamespace() { return vitrinePrivateNamespace; }\n`;
    },
  };
}

/** The wasm backend fetches its binaries at run time: ship them beside the chunks. */
function copyWasm(): Plugin {
  return {
    name: 'vitrine-copy-wasm',
    // Hashed chunk names change with content: start from an empty dist so stale chunks never ship.
    buildStart() {
      rmSync(OUT, { recursive: true, force: true });
    },
    writeBundle() {
      const dir = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
      mkdirSync(OUT, { recursive: true });
      for (const f of ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm']) {
        copyFileSync(join(dir, 'dist', f), join(OUT, f));
      }
    },
  };
}

const plugins = (): Plugin[] => [
  privateTfjsGlobals(),
  // `source`: workspace packages (@vitrine/core) are consumed as TypeScript and bundled in.
  resolve({ browser: true, preferBuiltins: false, exportConditions: ['source'] }),
  json({ preferConst: true }),
  // The wasm backend's emscripten glue (wasm-out/*.js) is CommonJS.
  commonjs({ include: /node_modules/, ignore: ['fs', 'path', 'worker_threads', 'perf_hooks', 'os', 'crypto'] }),
  esbuild({ target: 'es2020', tsconfig: 'tsconfig.json' }),
  integrity(), // wasm binary hashes baked into the wasm chunk; dist/integrity.json + import-map snippet
];

const config: RollupOptions[] = [
  {
    // npm build: ESM entry + lazily loaded chunks (wasm/webgl/cpu backends, backend selection).
    input: { index: `${SDK}/src/index.ts` },
    // Exactly the public names on the entry (a test checks it). Lazy chunks therefore must not
    // import entry modules, or rollup splits the entry into a second request.
    preserveEntrySignatures: 'strict',
    output: {
      dir: OUT,
      format: 'es',
      entryFileNames: '[name].js',
      chunkFileNames: 'chunks/[name]-[hash].js',
      plugins: [minify({ target: 'es2020' })],
      sourcemap: true,
    },
    plugins: [...plugins(), copyWasm()],
    onwarn(warning, warn) {
      // tfjs ships `this` at module top level in a few helpers; harmless in ESM.
      if (warning.code === 'THIS_IS_UNDEFINED' || warning.code === 'CIRCULAR_DEPENDENCY') return;
      warn(warning);
    },
  },
  {
    // Script-tag build: tiny IIFE that defines window.Vitrine and imports the ESM build beside it.
    input: `${SDK}/src/script-tag.ts`,
    output: { file: `${OUT}/vitrine.min.js`, format: 'iife', plugins: [minify({ target: 'es2020' })], sourcemap: true },
    plugins: plugins(),
  },
  {
    input: `${SDK}/src/index.ts`,
    output: { file: `${OUT}/index.d.ts`, format: 'es' },
    // @vitrine/core is bundled into the SDK, so its types are too: consumers never install it.
    plugins: [dts({ tsconfig: 'tsconfig.json', includeExternal: ['@vitrine/core'] })],
  },
];

export default config;
