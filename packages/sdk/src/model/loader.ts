import type { ModelIntegrity, Progress } from '../types';
import { VitrineError } from '../errors';
import {
  checkVersionLabel,
  dequantize,
  parseManifest,
  weightsDigest,
  type ModelManifest,
  type PinnedKey,
  type PublicationRole,
} from '@vitrine/core/artifact';
import { toHex } from '@vitrine/core/bytes';

/** One Cache API bucket for model files and the remembered backend race (nothing personal). */
export const MODEL_CACHE = 'vitrine-models-v1';
const LAST_GOOD_PREFIX = 'https://vitrine.invalid/last-good?manifest=';
/** The highest signed `sequence` accepted for a manifest URL (kept apart from last-good, so losing that record does not reset it). */
const HIGHEST_PREFIX = 'https://vitrine.invalid/highest-sequence?manifest=';

export interface LoadedModel {
  manifest: ModelManifest;
  /** Float32 weights by tensor name. */
  weights: Map<string, Float32Array>;
  bytes: number;
  /** Files read from the local cache rather than the network. */
  fromCache: number;
  /** Set when the requested version was refused and an earlier good version is used instead. */
  warning?: string;
  /** What was checked about this manifest (signature, version label, sequence). */
  integrity?: ModelIntegrity;
}

export interface LoaderEnv {
  fetch: typeof fetch;
  caches?: CacheStorage;
  subtle?: SubtleCrypto;
  onProgress?: (p: Progress) => void;
  /**
   * The pinned public key (`modelKey`). With it, a manifest must carry a valid signature by this
   * key, the `role` being loaded, a version label matching its weights and a `sequence` above the
   * last one accepted from the same URL (or equal to it for the same content); otherwise it is
   * refused like a tampered file. A promise: an unusable key rejects and the load fails with
   * `model_integrity`.
   */
  modelKey?: Promise<PinnedKey>;
  /** The channel being loaded: 'current' (the default, the page's model) or 'shadow' (the signals stage's). */
  role?: PublicationRole;
}

/** The highest sequence accepted before from a URL, and what it was accepted for. */
export interface Floor {
  sequence: number;
  version?: string;
  /** The weights digest (signature.ts); absent in records written before it was kept. */
  weights?: string;
}

/** A manifest as parsed, with the JSON it came from (what the signature covers). */
export interface Received {
  manifest: ModelManifest;
  raw: unknown;
}

export function defaultLoaderEnv(onProgress?: (p: Progress) => void): LoaderEnv {
  return {
    fetch: globalThis.fetch.bind(globalThis),
    caches: typeof caches === 'undefined' ? undefined : caches,
    subtle: globalThis.crypto?.subtle,
    onProgress,
  };
}

export async function sha256Hex(subtle: SubtleCrypto, data: ArrayBuffer): Promise<string> {
  return toHex(new Uint8Array(await subtle.digest('SHA-256', data)));
}

/**
 * Fetches a manifest and its weight files, checks every file's sha256 before use, and caches
 * verified files by content hash, so the next visit makes no weight request. A tampered or
 * truncated download is refused; the last version that verified is used instead when cached.
 */
export async function loadModel(manifestUrl: string, env: LoaderEnv): Promise<LoadedModel> {
  if (!env.subtle) {
    throw new VitrineError(
      'model_integrity',
      'cannot verify model files: crypto.subtle is unavailable (the page must be a secure context)',
    );
  }
  let pinned: PinnedKey | undefined;
  if (env.modelKey) {
    try {
      pinned = await env.modelKey;
    } catch (err) {
      throw new VitrineError('model_integrity', `the pinned modelKey cannot be used: ${(err as Error).message}`, {
        field: 'modelKey',
        cause: err,
      });
    }
  }
  const cache = await openCache(env);
  let received: Received | undefined;
  let manifestError: unknown;
  try {
    env.onProgress?.({ stage: 'manifest', progress: 0.02, detail: manifestUrl });
    const res = await env.fetch(manifestUrl, { cache: 'no-cache', credentials: 'omit' });
    if (!res.ok) throw new Error(`HTTP ${res.status} for ${manifestUrl}`);
    const raw: unknown = await res.json();
    received = { manifest: parseManifest(raw), raw };
  } catch (err) {
    manifestError = err;
  }
  const role = env.role ?? 'current';
  const lastGood = cache ? await readLastGood(cache, manifestUrl, env.subtle, pinned, role) : undefined;
  // Only with a pinned key: without one nothing is refused, so no floor applies.
  const floors: Floor[] = [];
  if (pinned && cache) {
    const highest = await readHighest(cache, manifestUrl);
    if (highest) floors.push(highest);
  }
  if (pinned && lastGood?.manifest.sequence !== undefined) {
    const m = lastGood.manifest;
    floors.push({ sequence: m.sequence!, version: m.version, weights: await weightsDigest(env.subtle, m) });
  }
  const rollbackFloor = floors.length ? Math.max(...floors.map((f) => f.sequence)) : ('none' as const);
  const cachedGood = async (why: string): Promise<LoadedModel> => {
    const fallback = await loadFiles(lastGood!.manifest, manifestUrl, env, cache, { cacheOnly: true });
    fallback.integrity = { ...lastGood!.integrity, source: 'last-good', rollbackFloor };
    fallback.warning = `${why}; using cached ${lastGood!.manifest.version}`;
    return fallback;
  };
  if (received) {
    const { manifest } = received;
    let integrity: ModelIntegrity;
    try {
      integrity = { ...(await checkTrust(received, env.subtle, pinned, role, floors)), rollbackFloor };
    } catch (err) {
      // Refused before any weight is fetched: a signed older model beats an unverifiable newer one.
      if (!lastGood) throw err;
      return cachedGood(`model ${manifest.version} refused (${(err as Error).message})`);
    }
    try {
      const model = await loadFiles(manifest, manifestUrl, env, cache);
      model.integrity = integrity;
      if (cache) await rememberGood(cache, manifestUrl, received, lastGood?.manifest, pinned ? env.subtle : undefined);
      return model;
    } catch (err) {
      if (!lastGood || lastGood.manifest.version === manifest.version) throw err;
      return cachedGood(`model ${manifest.version} refused (${(err as Error).message})`);
    }
  }
  if (lastGood) return cachedGood(`manifest unavailable (${(manifestError as Error)?.message})`);
  const detail = manifestError instanceof Error ? manifestError.message : String(manifestError);
  const code = /^manifest\./.test(detail) ? 'model_invalid' : 'model_unavailable';
  throw new VitrineError(code, `model manifest could not be loaded from ${manifestUrl}: ${detail}`, {
    field: 'model',
    cause: manifestError,
  });
}

async function openCache(env: LoaderEnv): Promise<Cache | undefined> {
  try {
    return env.caches ? await env.caches.open(MODEL_CACHE) : undefined;
  } catch {
    return undefined; // Cache API can throw in opaque-origin frames; we just download every time.
  }
}

function cacheKey(fileUrl: string, sha256: string): string {
  return `${fileUrl}#sha256=${sha256}`;
}

async function loadFiles(
  manifest: ModelManifest,
  manifestUrl: string,
  env: LoaderEnv,
  cache: Cache | undefined,
  options: { cacheOnly?: boolean } = {},
): Promise<LoadedModel> {
  const total = manifest.files.reduce((s, f) => s + f.bytes, 0);
  let loaded = 0;
  let fromCache = 0;
  const buffers: ArrayBuffer[] = [];
  for (const file of manifest.files) {
    const url = new URL(file.path, manifestUrl).href;
    const key = cacheKey(url, file.sha256);
    let data: ArrayBuffer | undefined;
    const hit = cache ? await cache.match(key) : undefined;
    if (hit) {
      const cached = await hit.arrayBuffer();
      // Re-verify: storage can be corrupted or edited; a bad entry is dropped and re-downloaded.
      if ((await sha256Hex(env.subtle!, cached)) === file.sha256) {
        data = cached;
        fromCache += 1;
      } else {
        await cache!.delete(key);
      }
    }
    if (!data) {
      if (options.cacheOnly) throw new VitrineError('model_unavailable', `${file.path} of ${manifest.version} is not cached`);
      data = await download(url, env, (n) => {
        env.onProgress?.({
          stage: 'download',
          progress: 0.05 + 0.6 * ((loaded + n) / total),
          loadedBytes: loaded + n,
          totalBytes: total,
          detail: file.path,
        });
      });
      env.onProgress?.({ stage: 'verify', progress: 0.05 + 0.6 * ((loaded + data.byteLength) / total), detail: file.path });
      if (data.byteLength !== file.bytes) {
        throw new VitrineError(
          'model_integrity',
          `${file.path}: expected ${file.bytes} bytes, got ${data.byteLength} (truncated or altered)`,
          { field: 'model' },
        );
      }
      const digest = await sha256Hex(env.subtle!, data);
      if (digest !== file.sha256) {
        throw new VitrineError('model_integrity', `${file.path}: sha256 ${digest} does not match the manifest (${file.sha256})`, {
          field: 'model',
        });
      }
      if (cache) {
        try {
          await cache.put(key, new Response(data.slice(0), { headers: { 'content-type': 'application/octet-stream' } }));
        } catch {
          /* quota: still usable, just not cached */
        }
      }
    }
    loaded += data.byteLength;
    buffers.push(data);
  }
  const weights = new Map<string, Float32Array>();
  try {
    for (const t of manifest.tensors) weights.set(t.name, dequantize(t, buffers[t.file]));
  } catch (err) {
    throw new VitrineError('model_invalid', `model ${manifest.version}: ${(err as Error).message}`, { field: 'model', cause: err });
  }
  env.onProgress?.({ stage: 'cache', progress: 0.7, loadedBytes: loaded, totalBytes: total });
  return {
    manifest,
    weights,
    bytes: total,
    fromCache,
    integrity: { signature: 'unchecked', versionLabel: 'unchecked', source: 'network', rollbackFloor: 'none' },
  };
}

async function download(url: string, env: LoaderEnv, onBytes: (n: number) => void): Promise<ArrayBuffer> {
  let res: Response;
  try {
    res = await env.fetch(url, { credentials: 'omit' });
  } catch (err) {
    throw new VitrineError('model_unavailable', `download of ${url} failed: ${(err as Error).message}`, { field: 'model', cause: err });
  }
  if (!res.ok) throw new VitrineError('model_unavailable', `download of ${url} failed: HTTP ${res.status}`, { field: 'model' });
  if (!res.body) return res.arrayBuffer();
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    n += value.byteLength;
    onBytes(n);
  }
  const out = new Uint8Array(n);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out.buffer;
}

/**
 * What the manifest proves about itself. Without a pinned key nothing is refused here (today's
 * behaviour; a label mismatch is only reported, see signature.ts) and the result says so. With
 * one: a valid signature by that key, the `role` being loaded (a signed shadow is not the current
 * model), a version label matching the weights, and a `sequence` above every one accepted before
 * from this URL, or equal to the highest for the same version and weights; a model_integrity
 * VitrineError otherwise.
 */
async function checkTrust(
  { manifest, raw }: Received,
  subtle: SubtleCrypto | undefined,
  pinned: PinnedKey | undefined,
  role: PublicationRole,
  floors: Floor[],
): Promise<Omit<ModelIntegrity, 'rollbackFloor'>> {
  const started = performance.now();
  const labelProblem = await checkVersionLabel(subtle!, manifest);
  const base = {
    versionLabel: labelProblem ? ('mismatch' as const) : ('matches' as const),
    source: 'network' as const,
    ...(manifest.sequence !== undefined ? { sequence: manifest.sequence } : {}),
    ...(manifest.rollbackOf ? { rollbackOf: manifest.rollbackOf } : {}),
    ...(manifest.role ? { role: manifest.role } : {}),
  };
  if (!pinned) return { signature: 'unchecked', ...base };
  // Signature, role and sequence checks only run with a pinned key: a lazy chunk, off the default first download.
  const { checkPinned } = await import('./pinned');
  return checkPinned({ manifest, raw }, subtle!, pinned, role, floors, base, labelProblem, started);
}

async function readHighest(cache: Cache, manifestUrl: string): Promise<Floor | undefined> {
  try {
    const res = await cache.match(HIGHEST_PREFIX + encodeURIComponent(manifestUrl));
    if (!res) return undefined;
    const { sequence, version, weights } = (await res.json()) as { sequence?: unknown; version?: unknown; weights?: unknown };
    if (typeof sequence !== 'number' || !Number.isSafeInteger(sequence)) return undefined;
    return {
      sequence,
      ...(typeof version === 'string' ? { version } : {}),
      ...(typeof weights === 'string' ? { weights } : {}),
    };
  } catch {
    return undefined;
  }
}

/** The last manifest that verified here, checked again (storage can be edited): with a pinned key, its signature too. */
async function readLastGood(
  cache: Cache,
  manifestUrl: string,
  subtle: SubtleCrypto | undefined,
  pinned: PinnedKey | undefined,
  role: PublicationRole,
): Promise<{ manifest: ModelManifest; integrity: Omit<ModelIntegrity, 'rollbackFloor'> } | undefined> {
  try {
    const res = await cache.match(LAST_GOOD_PREFIX + encodeURIComponent(manifestUrl));
    if (!res) return undefined;
    const raw: unknown = await res.json();
    const manifest = parseManifest(raw);
    return { manifest, integrity: await checkTrust({ manifest, raw }, subtle, pinned, role, []) };
  } catch {
    return undefined;
  }
}

/**
 * Records the verified manifest as received (signature included) and, when it was checked
 * against a pinned key (`verifiedWith` set), its sequence, version and weights digest as the
 * highest accepted; drops cached files that belong to neither it nor anything else current.
 */
async function rememberGood(
  cache: Cache,
  manifestUrl: string,
  { manifest, raw }: Received,
  previous: ModelManifest | undefined,
  verifiedWith: SubtleCrypto | undefined,
): Promise<void> {
  try {
    await cache.put(
      LAST_GOOD_PREFIX + encodeURIComponent(manifestUrl),
      new Response(JSON.stringify(raw), { headers: { 'content-type': 'application/json' } }),
    );
    if (verifiedWith && manifest.sequence !== undefined) {
      const highest = (await readHighest(cache, manifestUrl))?.sequence ?? 0;
      if (manifest.sequence > highest) {
        const weights = await weightsDigest(verifiedWith, manifest);
        await cache.put(
          HIGHEST_PREFIX + encodeURIComponent(manifestUrl),
          new Response(JSON.stringify({ sequence: manifest.sequence, version: manifest.version, weights }), {
            headers: { 'content-type': 'application/json' },
          }),
        );
      }
    }
    if (!previous || previous.version === manifest.version) return;
    const keep = new Set(manifest.files.map((f) => cacheKey(new URL(f.path, manifestUrl).href, f.sha256)));
    for (const f of previous.files) {
      const key = cacheKey(new URL(f.path, manifestUrl).href, f.sha256);
      if (!keep.has(key)) await cache.delete(key);
    }
  } catch {
    /* caching is an optimisation; never fail a load over it */
  }
}
