/** Owns getting a model ready to rank: download and verify it, then start a warmed-up backend for it. */
import { FeatureEncoder } from '@vitrine/core/features';
import type { PinnedKey } from '@vitrine/core/artifact';
import type { SelectedScorer } from '../scoring/select';
import { BACKENDS, type Progress, type VitrineOptions } from '../types';
import { defaultLoaderEnv, loadModel, MODEL_CACHE, type LoadedModel, type LoaderEnv } from './loader';

/** The imported `modelKey` of each options object: imported once, shared by the first load, retries and the shadow. */
const pinnedKeys = new WeakMap<VitrineOptions, Promise<PinnedKey>>();

/** The loader environment for `opts`: the browser's fetch, Cache API and WebCrypto, and the pinned key when one is set. */
export function loaderEnvFor(opts: VitrineOptions, progress?: (p: Progress) => void): LoaderEnv {
  const env = defaultLoaderEnv(progress);
  if (opts.modelKey === undefined) return env;
  let key = pinnedKeys.get(opts);
  if (!key) {
    const { subtle } = env;
    const modelKey = opts.modelKey;
    // Importing and checking a pinned key is a lazy chunk: pages without one never download it.
    key = subtle
      ? import('./pinned').then((m) => m.importPublicKey(subtle, modelKey))
      : Promise.reject(new Error('crypto.subtle is unavailable'));
    key.catch(() => undefined);
    pinnedKeys.set(opts, key);
  }
  return { ...env, modelKey: key };
}

/** A shadow model (the signals stage), held to the same pinned key as the current one; its signed role must be 'shadow'. */
export function loadShadowModel(manifestUrl: string, opts: VitrineOptions): Promise<LoadedModel> {
  return loadModel(manifestUrl, { ...loaderEnvFor(opts), role: 'shadow' });
}

/** A verified model with its encoder. */
export interface VerifiedModel {
  model: LoadedModel;
  encoder: FeatureEncoder;
}

/** A verified model and a warmed-up backend for it, or why no backend could start. */
export type ModelParts = VerifiedModel & ({ selected: SelectedScorer } | { backendError: unknown });

/**
 * Downloads and verifies the model (unless a retry already has it), then selects a warmed-up
 * backend for it: the first load and every retry. Rejects only when the model itself can't be had.
 * With `auto` the selected scorer ranks on WASM and may switch later (`selected.background`).
 */
export async function loadModelParts(
  opts: VitrineOptions,
  progress?: (p: Progress) => void,
  verified?: VerifiedModel,
): Promise<ModelParts> {
  // Fetch the scoring code (tfjs-core + WebGPU) while the model downloads, and start the backend
  // that ranks first (for `auto`, WASM: its chunk and binary) so it is ready when the model is.
  const selectP = import('../scoring/select');
  selectP.then((select) => select.preloadBackend(opts.backend ?? 'auto', opts.wasmPaths)).catch(() => undefined);
  const { model, encoder } = verified ?? (await loadVerifiedModel(opts, progress));
  try {
    progress?.({ stage: 'backend', progress: 0.75 });
    const { selectScorer } = await selectP.catch((err: unknown) => {
      // A CDN without CORS headers, a CSP or a blocker stopping the chunk: Chromium names its URL.
      throw new Error(`the scoring chunk could not be loaded (${(err as Error)?.message ?? err})`, { cause: err });
    });
    // Warm up for the input width this model really has, plus a few cross signatures.
    const selected = await selectScorer(model, opts.backend ?? 'auto', {
      wasmPaths: opts.wasmPaths,
      cacheName: MODEL_CACHE,
      inputWidth: encoder.variableWidth + 8,
      fallbackOrder: BACKENDS,
    });
    progress?.({ stage: 'warmup', progress: 0.95 });
    return { model, encoder, selected };
  } catch (backendError) {
    return { model, encoder, backendError };
  }
}

async function loadVerifiedModel(opts: VitrineOptions, progress?: (p: Progress) => void): Promise<VerifiedModel> {
  const manifestUrl = new URL(opts.model, globalThis.document?.baseURI ?? globalThis.location?.href).href;
  // The page's model: with a pinned key, only a manifest signed for the current role is accepted.
  const model = await loadModel(manifestUrl, { ...loaderEnvFor(opts, progress), role: 'current' });
  return { model, encoder: new FeatureEncoder(model.manifest.featureSpec) };
}
