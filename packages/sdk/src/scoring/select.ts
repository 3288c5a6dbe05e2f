import { engine, setBackend } from '@tensorflow/tfjs-core';
import type { LoadedModel } from '../model/loader';
import type { AdapterInfo, BackendName, BackendOption, BackendSelection } from '../types';
import { TfjsScorer } from './tfjs-scorer';
import './backends/webgpu';

/** Fallback backends are separate chunks, fetched only when needed. */
const lazyBackends: Record<Exclude<BackendName, 'webgpu'>, () => Promise<{ configure(wasmPaths?: string): void | Promise<void> }>> = {
  wasm: () => import('./backends/wasm'),
  webgl: () => import('./backends/webgl'),
  cpu: () => import('./backends/cpu'),
};

// GPU backends pad to power-of-two buckets; compiling these up front (in parallel) keeps the
// first real rank of up to 1,024 candidates free of shader compiles.
const WARM_BATCHES = [32, 64, 128, 256, 512, 1024];
const RACE_BATCH = 256;

export interface SelectedScorer {
  scorer: TfjsScorer;
  adapter?: AdapterInfo;
  selection: BackendSelection;
  warnings: string[];
}

export async function describeAdapter(): Promise<AdapterInfo | undefined> {
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu) return undefined;
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) return undefined;
  const info = (adapter.info ?? {}) as Partial<GPUAdapterInfo> & { isFallbackAdapter?: boolean };
  return {
    vendor: info.vendor ?? '',
    architecture: info.architecture ?? '',
    device: info.device ?? '',
    description: info.description ?? '',
    // `info.isFallbackAdapter` is the current spec; older Chromium only has the adapter property.
    isFallbackAdapter: Boolean(info.isFallbackAdapter ?? (adapter as unknown as { isFallbackAdapter?: boolean }).isFallbackAdapter),
  };
}

function messageOf(err: unknown): string {
  return (err as Error)?.message ?? String(err);
}

/** Initialises one backend and returns a warmed-up scorer, or throws why it can't. */
async function prepare(
  name: BackendName,
  model: LoadedModel,
  wasmPaths: string | undefined,
  width: number,
  warm = WARM_BATCHES,
): Promise<TfjsScorer> {
  if (name !== 'webgpu') {
    let backend: Awaited<ReturnType<(typeof lazyBackends)[typeof name]>>;
    try {
      backend = await lazyBackends[name]();
    } catch (err) {
      // Chromium names the chunk's URL ("Failed to fetch dynamically imported module: …/chunks/wasm-….js").
      throw new Error(`its chunk could not be loaded (${messageOf(err)})`, { cause: err });
    }
    // Fetches and verifies what the backend needs (the wasm binary): throws with the real cause.
    await backend.configure(wasmPaths);
  }
  // setBackend resolves false (or throws) when the backend can't start; tfjs logs its reason as a console warning.
  if (!(await setBackend(name)) || engine().backendName !== name) throw new Error(`tfjs could not initialise the ${name} backend`);
  const scorer = new TfjsScorer(model, name);
  await scorer.warmUp(warm, width);
  return scorer;
}

async function timeBatch(scorer: TfjsScorer, width: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    await scorer.scoreSynthetic(RACE_BATCH, width);
    times.push(performance.now() - t0);
  }
  return Math.round(times.sort((a, b) => a - b)[1] * 100) / 100;
}

/** What selection needs from the browser; tests pass stand-ins. */
export interface SelectionDeps {
  describeAdapter(): Promise<AdapterInfo | undefined>;
  /** A warmed-up scorer on `name` (warmed up for `warm` batch sizes, default all), or throws why not. */
  prepare(name: BackendName, warm?: number[]): Promise<TfjsScorer>;
  /** Median time of a race batch. */
  time(scorer: TfjsScorer): Promise<number>;
  readRace(key: string): Promise<RaceResult | undefined>;
  writeRace(key: string, result: RaceResult): Promise<void>;
  forgetRace(key: string): Promise<void>;
}

/**
 * `auto`: WebGPU on a hardware adapter; on a software (fallback) adapter, whichever of
 * WebGPU and WASM scores a batch faster after warm-up; without WebGPU, WASM, then WebGL, then CPU.
 * An explicit backend is used when it works; otherwise the chain continues and says why.
 * Every backend that was tried and failed is in `warnings` with its cause; a race is remembered
 * only when both contenders ran.
 */
export async function selectScorer(
  model: LoadedModel,
  option: BackendOption,
  options: {
    wasmPaths?: string;
    cacheName: string;
    inputWidth: number;
    /** Every backend, best first (passed in: this lazy chunk must not import entry modules). */
    fallbackOrder: readonly BackendName[];
  },
  overrides: Partial<SelectionDeps> = {},
): Promise<SelectedScorer> {
  const { wasmPaths, cacheName, inputWidth, fallbackOrder } = options;
  const deps: SelectionDeps = {
    describeAdapter,
    prepare: (name, warm) => prepare(name, model, wasmPaths, inputWidth, warm),
    time: (scorer) => timeBatch(scorer, inputWidth),
    readRace: (key) => readRace(cacheName, key),
    writeRace: (key, result) => writeRace(cacheName, key, result),
    forgetRace: (key) => forgetRace(cacheName, key),
    ...overrides,
  };
  const warnings: string[] = [];
  /** Why each backend could not be used (shown in the reason), in the order they were tried. */
  const errors: string[] = [];
  const failed = new Map<BackendName, string>();
  const fail = (name: BackendName, cause: string, isFailure = true) => {
    failed.set(name, cause);
    errors.push(`${name}: ${cause}`);
    // "No adapter" is an absence, not a failure; anything that was tried and broke is a warning.
    if (isFailure) warnings.push(`${name} failed: ${cause}`);
  };
  let adapter: AdapterInfo | undefined;
  try {
    adapter = await deps.describeAdapter();
  } catch (err) {
    warnings.push(`WebGPU adapter request failed: ${messageOf(err)}`);
  }
  const tryPrepare = async (name: BackendName, warm?: number[]): Promise<TfjsScorer | undefined> => {
    if (failed.has(name)) return undefined; // tried once in this selection: its cause is already reported
    if (name === 'webgpu' && !adapter) {
      fail(name, 'no WebGPU adapter', option === 'webgpu');
      return undefined;
    }
    try {
      return await deps.prepare(name, warm);
    } catch (err) {
      fail(name, messageOf(err));
      return undefined;
    }
  };
  const timed = async (scorer: TfjsScorer | undefined, timingsMs: Partial<Record<BackendName, number>>) => {
    if (!scorer) return undefined;
    try {
      timingsMs[scorer.backend] = await deps.time(scorer);
      return scorer;
    } catch (err) {
      scorer.dispose();
      fail(scorer.backend, `its race batch failed (${messageOf(err)})`);
      return undefined;
    }
  };

  if (option === 'auto' && adapter?.isFallbackAdapter) {
    const software = 'software WebGPU adapter (isFallbackAdapter)';
    const raceKey = `${adapter.vendor}|${adapter.architecture}|${adapter.device}|${adapter.description}|${model.manifest.version}`;
    const remembered = await deps.readRace(raceKey);
    if (remembered) {
      const scorer = await tryPrepare(remembered.backend);
      if (scorer) {
        return {
          scorer,
          adapter,
          warnings,
          selection: {
            reason: `${software}: ${remembered.backend} won the warm-up race on an earlier visit`,
            timingsMs: remembered.timingsMs,
          },
        };
      }
      // The remembered winner no longer starts here: race again, and keep no stale result.
      await deps.forgetRace(raceKey);
    }
    // A short race: each backend compiles and times only the race batch; the winner warms up fully.
    const timingsMs: Partial<Record<BackendName, number>> = {};
    const gpu = await timed(await tryPrepare('webgpu', [RACE_BATCH]), timingsMs);
    const wasm = await timed(await tryPrepare('wasm', [RACE_BATCH]), timingsMs);
    const winner = gpu && (!wasm || timingsMs.webgpu! <= timingsMs.wasm!) ? gpu : wasm;
    let warmed = false;
    if (winner) {
      (winner === gpu ? wasm : gpu)?.dispose();
      try {
        await winner.warmUp(WARM_BATCHES, inputWidth);
        warmed = true;
      } catch (err) {
        // A winner that fails its full warm-up (device lost, out of memory) is no winner: the fallback order below decides.
        winner.dispose();
        fail(winner.backend, `its warm-up failed (${messageOf(err)})`);
      }
    }
    if (winner && warmed) {
      let reason: string;
      if (gpu && wasm) {
        // Only a race both contenders entered is a result worth remembering.
        await deps.writeRace(raceKey, { backend: winner.backend, timingsMs });
        reason = `${software}: ${winner.backend} was faster on a ${RACE_BATCH}-candidate warm-up`;
      } else {
        const other = winner === gpu ? 'wasm' : 'webgpu';
        reason = `${software}: no race, ${other} failed (${failed.get(other)}); ${winner.backend} is the only contender that ran`;
      }
      return { scorer: winner, adapter, selection: { reason, timingsMs }, warnings };
    }
  }

  const order = option === 'auto' ? fallbackOrder : [option, ...fallbackOrder.filter((b) => b !== option)];
  for (const name of order) {
    // A backend that already failed in the race above is not tried (and downloaded) again.
    if (failed.has(name) && option === 'auto' && adapter?.isFallbackAdapter) continue;
    const scorer = await tryPrepare(name);
    if (!scorer) continue;
    let reason: string;
    if (option === name) reason = `backend '${name}' requested`;
    else if (option !== 'auto') reason = `backend '${option}' requested but unavailable; fell back to ${name}`;
    else if (name === 'webgpu') reason = 'hardware WebGPU adapter';
    else reason = `fell back to ${name}`;
    return { scorer, adapter, selection: { reason: errors.length ? `${reason} (${errors.join('; ')})` : reason }, warnings };
  }
  throw new Error(`no tfjs backend could run the model (${errors.join('; ')})`);
}

// The race result depends only on the device and the model, so it is remembered (nothing personal:
// adapter name and model version) and the next visit skips straight to the winner.
const RACE_URL = 'https://vitrine.invalid/backend-race';
export interface RaceResult {
  backend: BackendName;
  timingsMs: Partial<Record<BackendName, number>>;
}

async function readRace(cacheName: string, key: string): Promise<RaceResult | undefined> {
  try {
    if (typeof caches === 'undefined') return undefined;
    const res = await (await caches.open(cacheName)).match(`${RACE_URL}?k=${encodeURIComponent(key)}`);
    const value = res ? ((await res.json()) as RaceResult) : undefined;
    return value && (value.backend === 'webgpu' || value.backend === 'wasm') ? value : undefined;
  } catch {
    return undefined;
  }
}

async function writeRace(cacheName: string, key: string, result: RaceResult): Promise<void> {
  try {
    if (typeof caches === 'undefined') return;
    await (await caches.open(cacheName)).put(`${RACE_URL}?k=${encodeURIComponent(key)}`, new Response(JSON.stringify(result)));
  } catch {
    /* only an optimisation */
  }
}

async function forgetRace(cacheName: string, key: string): Promise<void> {
  try {
    if (typeof caches === 'undefined') return;
    await (await caches.open(cacheName)).delete(`${RACE_URL}?k=${encodeURIComponent(key)}`);
  } catch {
    /* only an optimisation */
  }
}
