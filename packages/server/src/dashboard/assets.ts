/**
 * Owns the dashboard's static assets: the page script (client/main.ts with Chart.js, bundled by
 * esbuild on first request and kept in memory) and its stylesheet. Bundling at run time keeps the
 * build as it is (the server runs from source through tsx, which itself runs on esbuild), and
 * serves one self-hosted file, so the page needs nothing but 'self' in its CSP.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

export interface Asset {
  body: string;
  /** Strong ETag of the body. */
  etag: string;
  type: string;
}

const asset = (body: string, type: string): Asset => ({
  body,
  type,
  etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
});

const CLIENT_ENTRY = fileURLToPath(new URL('./client/main.ts', import.meta.url));
const STYLESHEET = fileURLToPath(new URL('./dashboard.css', import.meta.url));

/** The page script, bundled (Chart.js included) and minified. */
export async function bundleClient(): Promise<Asset> {
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    entryPoints: [CLIENT_ENTRY],
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    target: 'es2020',
    minify: true,
    // Chart.js is MIT: its notice stays in the served file.
    legalComments: 'eof',
    logLevel: 'silent',
  });
  return asset(result.outputFiles[0].text, 'text/javascript; charset=utf-8');
}

export async function readStylesheet(): Promise<Asset> {
  return asset(await readFile(STYLESHEET, 'utf8'), 'text/css; charset=utf-8');
}

/** `load` once; a failure is not kept (the next request tries again). */
export function memoize(load: () => Promise<Asset>): () => Promise<Asset> {
  let pending: Promise<Asset> | null = null;
  return () => {
    pending ??= load().catch((err: unknown) => {
      pending = null;
      throw err;
    });
    return pending;
  };
}
