import { engine, setBackend } from '@tensorflow/tfjs-core';
import type { LoadedModel } from '../model/loader';
import type { AdapterInfo, BackendName, BackendOption, BackendSelection } from '../types';
import { TfjsScorer } from './tfjs-scorer';
import './backends/webgpu';

/** Fallback backends are separate chunks, fetched only when needed. */
const lazyBackends: Record<Exclude<BackendName, 'webgpu'>, () => Promise<{ configure(wasmPaths?: string): void }>> = {
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

/** Initialises one backend and returns a warmed-up scorer, or throws why it can't. */
async function prepare(
  name: BackendName,
  model: LoadedModel,
  wasmPaths: string | undefined,
  width: number,
  warm = WARM_BATCHES,
): Promise<TfjsScorer> {
  if (name !== 'webgpu') (await lazyBackends[name]()).configure(wasmPaths);
  // setBackend resolves false (or throws) when the backend can't start in this browser.
  if (!(await setBackend(name)) || engine().backendName !== name) throw new Error(`${name} is not available in this browser`);
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

/**
 * `auto`: WebGPU on a hardware adapter; on a software (fallback) adapter, whichever of
 * WebGPU and WASM scores a batch faster after warm-up; without WebGPU, WASM, then WebGL, then CPU.
 * An explicit backend is used when it works; otherwise the chain continues and says why.
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
): Promise<SelectedScorer> {
  const { wasmPaths, cacheName, inputWidth, fallbackOrder } = options;
  const warnings: string[] = [];
  const errors: string[] = [];
  let adapter: AdapterInfo | undefined;
  try {
    adapter = await describeAdapter();
  } catch (err) {
    warnings.push(`WebGPU adapter request failed: ${(err as Error).message}`);
  }
  const tryPrepare = async (name: BackendName, warm?: number[]): Promise<TfjsScorer | undefined> => {
    if (name === 'webgpu' && !adapter) {
      errors.push('webgpu: no WebGPU adapter');
      return undefined;
    }
    try {
      return await prepare(name, model, wasmPaths, inputWidth, warm);
    } catch (err) {
      errors.push(`${name}: ${(err as Error).message}`);
      return undefined;
    }
  };

  if (option === 'auto' && adapter?.isFallbackAdapter) {
    const raceKey = `${adapter.vendor}|${adapter.architecture}|${adapter.device}|${adapter.description}|${model.manifest.version}`;
    const remembered = await readRace(cacheName, raceKey);
    if (remembered) {
      const scorer = await tryPrepare(remembered.backend);
      if (scorer) {
        return {
          scorer,
          adapter,
          warnings,
          selection: {
            reason: `software WebGPU adapter (isFallbackAdapter): ${remembered.backend} won the warm-up race on an earlier visit`,
            timingsMs: remembered.timingsMs,
          },
        };
      }
    }
    // A short race: each backend compiles and times only the race batch; the winner warms up fully.
    const gpu = await tryPrepare('webgpu', [RACE_BATCH]);
    const wasm = await tryPrepare('wasm', [RACE_BATCH]);
    const timingsMs: Partial<Record<BackendName, number>> = {};
    if (gpu) timingsMs.webgpu = await timeBatch(gpu, inputWidth);
    if (wasm) timingsMs.wasm = await timeBatch(wasm, inputWidth);
    if (gpu || wasm) {
      const winner = gpu && (!wasm || timingsMs.webgpu! <= timingsMs.wasm!) ? gpu : wasm!;
      (winner === gpu ? wasm : gpu)?.dispose();
      await winner.warmUp(WARM_BATCHES, inputWidth);
      await writeRace(cacheName, raceKey, { backend: winner.backend, timingsMs });
      return {
        scorer: winner,
        adapter,
        selection: {
          reason: `software WebGPU adapter (isFallbackAdapter): ${winner.backend} was faster on a ${RACE_BATCH}-candidate warm-up`,
          timingsMs,
        },
        warnings,
      };
    }
  }

  const order = option === 'auto' ? fallbackOrder : [option, ...fallbackOrder.filter((b) => b !== option)];
  for (const name of order) {
    const scorer = await tryPrepare(name);
    if (!scorer) continue;
    let reason: string;
    if (option === name) reason = `backend '${name}' requested`;
    else if (option !== 'auto') reason = `backend '${option}' requested but unavailable; fell back to ${name}`;
    else if (name === 'webgpu') reason = 'hardware WebGPU adapter';
    else reason = `fell back to ${name}`;
    if (option !== 'auto' && option !== name) warnings.push(`${reason} (${errors.join('; ')})`);
    return { scorer, adapter, selection: { reason: errors.length ? `${reason} (${errors.join('; ')})` : reason }, warnings };
  }
  throw new Error(`no tfjs backend could run the model (${errors.join('; ')})`);
}

// The race result depends only on the device and the model, so it is remembered (nothing personal:
// adapter name and model version) and the next visit skips straight to the winner.
const RACE_URL = 'https://vitrine.invalid/backend-race';
interface RaceResult {
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
