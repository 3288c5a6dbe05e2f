/**
 * Pins every file the SDK ships (issue 14, item 4):
 * - bakes the sha256 of each tfjs-backend-wasm binary into the wasm chunk (the placeholder in
 *   packages/sdk/src/scoring/backends/wasm.ts), which checks the binary before it compiles;
 * - writes `dist/integrity.json` (sha384 SRI of every file in dist/) and
 *   `dist/integrity-importmap.html`: an import map with `integrity` for the entry and every chunk,
 *   plus the script tag with its SRI, for pages that pin the whole SDK.
 * Used in every build of rollup.config.ts; each build rewrites both files over what dist/ holds
 * then, so the last one (the script tag) lists everything.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, sep } from 'node:path';
import type { Plugin } from 'rollup';

const WASM_BINARIES = ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm'];
const PLACEHOLDER = /(['"`])__VITRINE_WASM_SHA256__\1/;
/** What a shop replaces with the URL its copy of dist/ is served from (no trailing slash). */
export const BASE_PLACEHOLDER = '__VITRINE_BASE__';
export const MANIFEST = 'integrity.json';
export const IMPORT_MAP = 'integrity-importmap.html';

const sha = (algorithm: 'sha256' | 'sha384', data: Buffer, encoding: 'hex' | 'base64') =>
  createHash(algorithm).update(data).digest(encoding);

/** sha256 (hex) of the binaries tfjs-backend-wasm ships: the files the build copies into dist/. */
export function wasmHashes(): Record<string, string> {
  const dir = join(dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
  return Object.fromEntries(WASM_BINARIES.map((f) => [f, sha('sha256', readFileSync(join(dir, f)), 'hex')]));
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

/** `{ "chunks/select-….js": "sha384-…", … }` for every file in `dir` but the two this plugin writes. */
export function integrityOf(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const path of filesUnder(dir).sort()) {
    const rel = relative(dir, path).split(sep).join('/');
    if (rel === MANIFEST || rel === IMPORT_MAP) continue;
    out[rel] = `sha384-${sha('sha384', readFileSync(path), 'base64')}`;
  }
  return out;
}

/** The snippet a page puts before any module script: the import map pins index.js and every chunk. */
export function importMapSnippet(files: Record<string, string>): string {
  const modules = Object.fromEntries(
    Object.entries(files)
      .filter(([rel]) => rel === 'index.js' || /^chunks\/[^/]+\.js$/.test(rel))
      .map(([rel, integrity]) => [`${BASE_PLACEHOLDER}/${rel}`, integrity]),
  );
  const lines = [
    `<!-- @vitrine/sdk integrity: replace ${BASE_PLACEHOLDER} with the URL this dist/ is served from (no trailing slash). -->`,
    '<!-- The import map must come before any module script; the .wasm binaries are checked by the pinned wasm chunk. -->',
    `<script type="importmap">${JSON.stringify({ integrity: modules }, null, 2)}</script>`,
  ];
  if (files['vitrine.min.js']) {
    const sri = files['vitrine.min.js'];
    lines.push(
      `<script async src="${BASE_PLACEHOLDER}/vitrine.min.js" integrity="${sri}" crossorigin="anonymous" data-model="…"></script>`,
    );
  }
  return `${lines.join('\n')}\n`;
}

export default function integrity(): Plugin {
  let hashes: Record<string, string> | undefined;
  return {
    name: 'vitrine-integrity',
    transform(code, id) {
      if (!/scoring[\\/]backends[\\/]wasm\.ts$/.test(id)) return null;
      hashes ??= wasmHashes();
      if (!PLACEHOLDER.test(code)) this.error('wasm.ts lost its __VITRINE_WASM_SHA256__ placeholder: the wasm binary would go unchecked');
      return { code: code.replace(PLACEHOLDER, JSON.stringify(JSON.stringify(hashes))), map: null };
    },
    writeBundle: {
      // After the other plugins' writeBundle (the wasm binaries are copied there).
      order: 'post',
      sequential: true,
      handler(options) {
        const dir = options.dir ?? dirname(options.file!);
        if (!existsSync(dir)) return;
        const files = integrityOf(dir);
        // The binaries in dist/ must be the ones whose hashes the wasm chunk carries.
        const expected = wasmHashes();
        for (const f of WASM_BINARIES) {
          if (!existsSync(join(dir, f))) continue;
          if (sha('sha256', readFileSync(join(dir, f)), 'hex') !== expected[f])
            this.error(`${f} in ${dir} is not the binary the wasm chunk expects`);
        }
        writeFileSync(join(dir, MANIFEST), `${JSON.stringify(files, null, 2)}\n`);
        writeFileSync(join(dir, IMPORT_MAP), importMapSnippet(files));
      },
    },
  };
}
