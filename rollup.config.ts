import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import type { Plugin, RollupOptions } from 'rollup';
import resolve from '@rollup/plugin-node-resolve';
import commonjs from '@rollup/plugin-commonjs';
import json from '@rollup/plugin-json';
import esbuild, { minify } from 'rollup-plugin-esbuild';
import dts from 'rollup-plugin-dts';
import terser from '@rollup/plugin-terser';
import { thirdPartyNotices } from './scripts/rollup-third-party-notices';
import integrity from './scripts/rollup-integrity';
import { slimTfjs } from './scripts/rollup-slim-tfjs';

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
      // Same length, appended lines only: no code moves, so the file's own source map still holds.
      const patched = code.replace('export function getGlobalNamespace()', 'function windowGlobalNamespace()    ');
      if (patched === code) this.error('tfjs-core global_util.js changed: update the private-globals patch');
      const ns = 'const vitrinePrivateNamespace = {};\nexport function getGlobalNamespace() { return vitrinePrivateNamespace; }';
      return { code: `${patched}\n${ns}\n`, map: null };
    },
  };
}

/**
 * Node-only modules that tfjs requires on its Node code paths (emscripten glue, tfjs-core's Node
 * platform, seedrandom's crypto probe); tfjs-core and tfjs-backend-wasm map them to `false` in
 * their `browser` field. Resolve each to an empty module so that no Node built-in name reaches
 * dist: a shop's bundler warns on each one ("Module "fs" has been externalized…").
 */
const NODE_ONLY = new Set(['fs', 'path', 'os', 'crypto', 'util', 'worker_threads', 'perf_hooks', 'node-fetch']);
const NODE_STUB = '\0vitrine-node-only:';
// Named exports too: commonjs hands a require() of an ES module its namespace object.
const UTIL_STUB = `const is = (C) => (a) => a instanceof C;
export const TextEncoder = globalThis.TextEncoder;
export const TextDecoder = globalThis.TextDecoder;
export const types = {
  isFloat32Array: is(Float32Array), isInt32Array: is(Int32Array),
  isUint8Array: is(Uint8Array), isUint8ClampedArray: is(Uint8ClampedArray),
};
export default { TextEncoder, TextDecoder, types };
`;
function nodeOnlyStubs(): Plugin {
  return {
    name: 'vitrine-node-only-stubs',
    resolveId(source) {
      const name = source.replace(/^node:/, '');
      return NODE_ONLY.has(name) ? { id: NODE_STUB + name, moduleSideEffects: false } : null;
    },
    load(id) {
      if (!id.startsWith(NODE_STUB)) return null;
      // tfjs-core picks its Node platform in Node (SSR, tests) and needs these from `util`:
      // the standard globals do the same job without naming a Node module.
      if (id === `${NODE_STUB}util`) return UTIL_STUB;
      return 'export default {};\n';
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

const WASM_NOTICE = `The \`tfjs-backend-wasm*.wasm\` binaries are copied unchanged from @tensorflow/tfjs-backend-wasm
(Apache-2.0); they are compiled by the TensorFlow.js project with Emscripten and include XNNPACK.
Neither licence text ships with @tensorflow/tfjs-backend-wasm; they are:
- Emscripten runtime (in the binaries and the wasm glue): MIT or University of Illinois/NCSA,
  https://github.com/emscripten-core/emscripten/blob/main/LICENSE
- XNNPACK (in the binaries): BSD-3-Clause, https://github.com/google/XNNPACK/blob/master/LICENSE`;

/**
 * A terser pass after esbuild's minifier: two compress passes and module-scope mangling take
 * another ~5% off the gzip of the first-paint chunks (issue #13's 60 KB budget).
 */
const squeeze = () => terser({ module: true, ecma: 2020, compress: { passes: 2 }, format: { comments: false } });

const plugins = (): Plugin[] => [
  slimTfjs(),
  privateTfjsGlobals(),
  nodeOnlyStubs(),
  // `source`: workspace packages (@vitrine/core) are consumed as TypeScript and bundled in.
  resolve({ browser: true, preferBuiltins: false, exportConditions: ['source'] }),
  json({ preferConst: true }),
  // The wasm backend's emscripten glue (wasm-out/*.js) is CommonJS, and tfjs-core's Node platform
  // calls require() from ESM: turn both into imports, which nodeOnlyStubs() answers.
  commonjs({ include: /node_modules/, transformMixedEsModules: true }),
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
      // Legal comments: tfjs repeats its licence header in every module (192 times in one chunk);
      // THIRD_PARTY_NOTICES.md lists each bundled package and its notices once instead.
      plugins: [minify({ target: 'es2020', legalComments: 'none' }), squeeze()],
      sourcemap: true,
    },
    plugins: [
      ...plugins(),
      copyWasm(),
      thirdPartyNotices({ fileName: 'THIRD_PARTY_NOTICES.md', ownScope: '@vitrine', extra: WASM_NOTICE }),
    ],
    onwarn(warning, warn) {
      // tfjs ships `this` at module top level in a few helpers; harmless in ESM.
      if (warning.code === 'THIS_IS_UNDEFINED' || warning.code === 'CIRCULAR_DEPENDENCY') return;
      warn(warning);
    },
  },
  {
    // Script-tag build: tiny IIFE that defines window.Vitrine and imports the ESM build beside it.
    input: `${SDK}/src/script-tag.ts`,
    output: {
      file: `${OUT}/vitrine.min.js`,
      format: 'iife',
      plugins: [minify({ target: 'es2020', legalComments: 'none' })],
      sourcemap: true,
    },
    plugins: plugins(),
  },
  {
    input: `${SDK}/src/index.ts`,
    output: { file: `${OUT}/index.d.ts`, format: 'es' },
    // @vitrine/core is bundled into the SDK, so its types are too: consumers never install it.
    plugins: [dts({ tsconfig: 'tsconfig.json', includeExternal: ['@vitrine/core', 'valibot'] })],
  },
];

export default config;
