/**
 * A tfjs "custom bundle" for the SDK (issue 13: initial JS on the WebGPU path ≤ 60 KB gzip).
 *
 * The SDK uses a small part of tfjs: the engine, flags, the browser platform, `tensor()`, kernel
 * registration, one kernel per backend and what the backends call. Bundled naively, far more comes
 * along, for three reasons this plugin removes:
 * 1. `@tensorflow/tfjs-core` (dist/index.js) registers every optimizer. The bare import (ours and
 *    the backends') resolves here to a module that imports only tfjs-core's required side effects
 *    (`dist/base_side_effects`: engine, flags, platforms, the tensor op handler) and re-exports
 *    `dist/base`, as tfjs's own custom bundles do.
 * 2. @rollup/plugin-node-resolve applies a package's `sideEffects` list only to the files it
 *    resolves from a bare import, not to a package's relative imports, so rollup took every tfjs
 *    file as side-effectful: ops without a `@__PURE__` mark, `long` via util → hash_util (three
 *    top-level `Long.fromString` calls), `seedrandom` via the random ops. Here every file of a tfjs
 *    package gets the package's own list (what webpack does); tfjs-backend-webgpu declares none,
 *    so it gets the two files that register something. A file off the list is bundled only where
 *    something uses a binding from it.
 * 3. The list itself names files the SDK does not need for their side effects: tfjs-core's io
 *    handlers, gradient and chained-op registration, and the browser platform's registration of
 *    the localStorage / IndexedDB model stores (blanked out in platform_browser.js below).
 * 4. Three modules the engine needs only for gradients, DEBUG mode and printing (STAND_INS).
 */
import { readFileSync } from 'node:fs';
import { join, sep } from 'node:path';
import type { Plugin } from 'rollup';

const CORE = '@tensorflow/tfjs-core';
const SLIM = '\0vitrine-tfjs-core-slim';
const SLIM_CODE = `import '${CORE}/dist/base_side_effects.js';\nexport * from '${CORE}/dist/base.js';\n`;

/** The tfjs package a file belongs to, and the file's path inside it (`dist/…`, with `/`). */
const TFJS_FILE = /[\\/]node_modules[\\/]@tensorflow[\\/](tfjs-[a-z-]+)[\\/](.+)$/;

/** Files a package's `sideEffects` list names that the SDK needs only for their exports. */
const UNNEEDED: Record<string, RegExp> = {
  'tfjs-core': /^dist\/(io\/|public\/chained_ops\/|register_all_gradients\.js$)/,
};
/** tfjs-backend-webgpu has no `sideEffects` field: its flags and its backend registration. */
const DECLARED: Record<string, string[]> = {
  'tfjs-backend-webgpu': ['./dist/base.js', './dist/flags_webgpu.js'],
};

/**
 * tfjs-core modules the engine and Tensor import for features the SDK never turns on, replaced by
 * stand-ins with the same exports (1.7 KB gzip): gradient tapes (`tf.grad` & co.), the DEBUG-mode
 * kernel profiler (the engine constructs one per backend and calls it only with the DEBUG flag),
 * and the pretty-printer behind `Tensor.toString()` / `tf.print`. Anything that does reach them
 * fails with a message naming this build; a tfjs-core version that imports more from them fails
 * the build ("… is not exported by …").
 */
const off = (feature: string) => `throw new Error('${feature} is not part of the Vitrine SDK build of tfjs-core');`;
const STAND_INS: Record<string, string> = {
  'dist/tape.js': `export function getFilteredNodesXToY() { ${off('gradients')} }
export function backpropagateGradients() { ${off('gradients')} }
`,
  'dist/profiler.js': `export class Profiler {
  profileKernel() { ${off('DEBUG-mode kernel profiling')} }
  logKernelProfile() {}
}
export function checkComputationForErrors() { return false; }
export class Logger { logKernelProfile() {} }
`,
  'dist/tensor_format.js': `export function tensorToString(vals, shape, dtype) {
  return 'Tensor\\n  dtype: ' + dtype + '\\n  shape: [' + shape + ']';
}
`,
};

/** `./dist/platforms/*.js` → a RegExp on `dist/…` paths. */
function globToRegExp(glob: string): RegExp {
  const body = glob
    .replace(/^\.\//, '')
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*\*/g, '\0')
    .replace(/\*/g, '[^/]*')
    .replace(/\0/g, '.*');
  return new RegExp(`^${body.includes('/') ? '' : '(?:.*/)?'}${body}$`);
}

const lists = new Map<string, RegExp[] | undefined>();
/** The package's side-effectful files; undefined when it declares nothing (then rollup's default holds). */
function declaredSideEffects(pkg: string, file: string): RegExp[] | undefined {
  if (!lists.has(pkg)) {
    const root = file.slice(0, file.length - TFJS_FILE.exec(file)![2].length - 1);
    const field: unknown = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).sideEffects;
    const globs = DECLARED[pkg] ?? (Array.isArray(field) ? (field as string[]) : undefined);
    lists.set(pkg, globs?.map(globToRegExp));
  }
  return lists.get(pkg);
}

/** Whether the SDK needs this tfjs file's top-level side effects; undefined: not a tfjs file, or no opinion. */
export function tfjsSideEffects(file: string): boolean | undefined {
  const m = TFJS_FILE.exec(file);
  if (!m) return undefined;
  const [, pkg, path] = m;
  const inPackage = path.split(sep).join('/');
  const declared = declaredSideEffects(pkg, file);
  if (!declared) return undefined;
  return declared.some((re) => re.test(inPackage)) && !UNNEEDED[pkg]?.test(inPackage);
}

/** From `// Register LocalStorage IOHandler` to the end of the IndexedDB registration's `catch (err) {\n}`. */
const MODEL_STORES = /\/\/ Register LocalStorage IOHandler[\s\S]*?BrowserIndexedDBManager\(\)\);\s*\}\s*catch \(err\) \{\s*\}/;

export function slimTfjs(): Plugin {
  return {
    name: 'vitrine-slim-tfjs',
    resolveId(source, importer, options) {
      if (source === CORE) return SLIM;
      if (importer === SLIM) return this.resolve(source, undefined, { ...options, skipSelf: true });
      return null;
    },
    load(id) {
      if (id === SLIM) return { code: SLIM_CODE, moduleSideEffects: true };
      const m = TFJS_FILE.exec(id);
      const standIn = m?.[1] === 'tfjs-core' ? STAND_INS[m[2].split(sep).join('/')] : undefined;
      return standIn === undefined ? null : { code: standIn, map: { mappings: '' }, moduleSideEffects: false };
    },
    transform(code, id) {
      const sideEffects = tfjsSideEffects(id);
      if (sideEffects === undefined) return null;
      if (!/[\\/]tfjs-core[\\/]dist[\\/]platforms[\\/]platform_browser\.js$/.test(id)) {
        return { code, map: null, moduleSideEffects: sideEffects };
      }
      // The browser platform also registers tfjs's localStorage and IndexedDB model stores (for
      // tf.io.listModels & co.), which pulls in every io handler. Blank those registrations out,
      // keeping every other character where it was so the file's own source map still holds.
      const patched = code.replace(MODEL_STORES, (m) => m.replace(/[^\n]/g, ' '));
      if (patched === code) this.error('tfjs-core platform_browser.js changed: update the model-store patch');
      return { code: patched, map: null, moduleSideEffects: sideEffects };
    },
  };
}
