import { engine, setBackend } from '@tensorflow/tfjs-core';
import type { LoadedModel } from '../model/loader';
import type { AdapterInfo, BackendName, BackendOption, BackendSelection } from '../types';
import type { Scorer } from './scorer';
import { SwitchingScorer } from './switching-scorer';
import { exclusive, TfjsScorer } from './tfjs-scorer';
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
/**
 * `auto`: how long the adapter request may still take once WASM is ready to rank. A safety net
 * for drivers that never answer: a busy machine's first request (GPU process start) can take
 * several hundred ms, and giving up on WebGPU for the page must stay rare.
 */
export const ADAPTER_GRACE_MS = 2_000;

export interface SelectedScorer {
  scorer: Scorer;
  adapter?: AdapterInfo;
  selection: BackendSelection;
  warnings: string[];
  /**
   * `auto` only: work that may move `scorer` to a faster backend once it is ready (a race on a
   * software adapter, WebGPU's shader compilation on a hardware one). Nothing runs until the
   * client calls `start()`, after its first scorer ranks; `cancel()` stops it (close, forget).
   */
  background?: BackgroundSelection;
}

/** What the client hears from background selection. Called at most until the work is over or cancelled. */
export interface BackgroundEvents {
  /** The selection is decided (or failed): `backend` ranks from now on, `selection` says why. */
  onSelection(backend: BackendName, selection: BackendSelection): void;
  /** A background backend failed; ranking stays where it is. */
  onWarning(warning: string): void;
}

export interface BackgroundSelection {
  /** What may follow, for the status: the backend being raced or warmed up. */
  readonly candidate: BackendName;
  /** Schedules the work off the critical path (idle callback or timer). Only the first call counts. */
  start(events: BackgroundEvents): void;
  /** Stops it: no switch and no remembered race after this; what it started is disposed. Idempotent. */
  cancel(): void;
  /** Settles once the work is over (decided, failed or cancelled and cleaned up); never rejects. */
  readonly done: Promise<void>;
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

/**
 * Loads, configures and initialises a backend (no model needed): its chunk, the wasm binary
 * (fetched and verified) and tfjs' setBackend. One attempt at a time per backend and wasm path,
 * shared by preloadBackend() and prepare(); a failed attempt is forgotten so a retry starts over.
 */
const starting = new Map<string, Promise<void>>();
function startBackend(name: BackendName, wasmPaths: string | undefined): Promise<void> {
  const key = `${name}|${wasmPaths ?? ''}`;
  let start = starting.get(key);
  if (!start) {
    start = (async () => {
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
      // In an exclusive() turn: a rank on another backend (background selection) must never run
      // while the engine is switched or half-initialised. setBackend resolves false (or throws)
      // when the backend can't start; tfjs logs its reason as a console warning.
      await exclusive(async () => {
        if (!(await setBackend(name)) || engine().backendName !== name) throw new Error(`tfjs could not initialise the ${name} backend`);
      });
    })();
    starting.set(key, start);
    start.catch(() => starting.delete(key));
  }
  return start;
}

/**
 * Starts the backend that will rank first while the model downloads: WASM for `auto` (and
 * `wasm`), the requested fallback backend otherwise. Failures are reported by selectScorer.
 */
export function preloadBackend(option: BackendOption, wasmPaths: string | undefined): void {
  const name = option === 'auto' ? 'wasm' : option;
  if (name !== 'webgpu') startBackend(name, wasmPaths).catch(() => undefined);
}

/** Initialises one backend and returns a warmed-up scorer, or throws why it can't. */
async function prepare(
  name: BackendName,
  model: LoadedModel,
  wasmPaths: string | undefined,
  width: number,
  warm = WARM_BATCHES,
  signal?: AbortSignal,
): Promise<TfjsScorer> {
  await startBackend(name, wasmPaths);
  signal?.throwIfAborted();
  const scorer = new TfjsScorer(model, name);
  try {
    await scorer.warmUp(warm, width, signal);
  } catch (err) {
    scorer.dispose(); // its weights may already be on the backend
    throw err;
  }
  return scorer;
}

/** Runs `fn` when the page is idle (at most `timeoutMs` later), else on a timer; returns a cancel function. */
export function whenIdle(fn: () => void, timeoutMs = 1_000): () => void {
  const g = globalThis as unknown as {
    requestIdleCallback?: (cb: () => void, opts: { timeout: number }) => number;
    cancelIdleCallback?: (id: number) => void;
  };
  if (g.requestIdleCallback && g.cancelIdleCallback) {
    const id = g.requestIdleCallback(fn, { timeout: timeoutMs });
    return () => g.cancelIdleCallback!(id);
  }
  const id = setTimeout(fn, 0);
  return () => clearTimeout(id);
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
  /**
   * A warmed-up scorer on `name` (warmed up for `warm` batch sizes, default all), or throws why
   * not; `signal` (background work) stops it between steps.
   */
  prepare(name: BackendName, warm?: number[], signal?: AbortSignal): Promise<TfjsScorer>;
  /** Runs background selection off the critical path; returns a cancel function. */
  schedule(run: () => void): () => void;
  /** Median time of a race batch. */
  time(scorer: TfjsScorer): Promise<number>;
  readRace(key: string): Promise<RaceResult | undefined>;
  writeRace(key: string, result: RaceResult): Promise<void>;
  forgetRace(key: string): Promise<void>;
}

/**
 * `auto` ranks on WASM as soon as it is ready (it starts while the WebGPU adapter is described)
 * and decides about WebGPU in the background (`background`), off the critical path:
 * - software (fallback) adapter: WebGPU races WASM on a batch; the faster one ranks from then
 *   on and the result is remembered, so the next visit starts on the winner (WASM at once; a
 *   remembered WebGPU winner is warmed up in the background again before the switch);
 * - hardware adapter: WebGPU compiles its shaders in the background and ranking switches to it
 *   once it is warm;
 * - no adapter: WASM, no background work.
 * Only when WASM can't start does `auto` wait for WebGPU (the race, or its warm-up), then WebGL,
 * then CPU. An explicit backend is used when it works; otherwise the chain continues and says why.
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
    prepare: (name, warm, signal) => prepare(name, model, wasmPaths, inputWidth, warm, signal),
    schedule: (run) => whenIdle(run),
    time: (scorer) => timeBatch(scorer, inputWidth),
    readRace: (key) => readRace(cacheName, key),
    writeRace: (key, result) => writeRace(cacheName, key, result),
    forgetRace: (key) => forgetRace(cacheName, key),
    ...overrides,
  };
  const warnings: string[] = [];
  /** Why each backend could not be used (shown in the reason), in the order they were tried. */
  const failed = new Map<BackendName, string>();
  /** The causes for the reason: `auto` lists them in fallback order (WASM is tried first, in parallel). */
  const causes = () =>
    (option === 'auto' ? [...failed.keys()].sort((a, b) => fallbackOrder.indexOf(a) - fallbackOrder.indexOf(b)) : [...failed.keys()])
      .map((name) => `${name}: ${failed.get(name)}`)
      .join('; ');
  const fail = (name: BackendName, cause: string, isFailure = true) => {
    failed.set(name, cause);
    // "No adapter" is an absence, not a failure; anything that was tried and broke is a warning.
    if (isFailure) warnings.push(`${name} failed: ${cause}`);
  };
  let adapter: AdapterInfo | undefined;
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
  // `auto` ranks on WASM first whatever the adapter turns out to be: start it right away.
  const fastWasm = option === 'auto' ? tryPrepare('wasm') : undefined;
  const adapterAnswer = deps.describeAdapter().then(
    (found) => ({ found }),
    (err: unknown) => ({ err }),
  );
  const keyOf = (a: AdapterInfo) => `${a.vendor}|${a.architecture}|${a.device}|${a.description}|${model.manifest.version}`;
  // A remembered race result is read while WASM still starts (opening the Cache API takes ~10 ms).
  const rememberedEarly =
    option === 'auto'
      ? adapterAnswer.then((a) => ('found' in a && a.found?.isFallbackAdapter ? deps.readRace(keyOf(a.found)) : undefined))
      : undefined;
  rememberedEarly?.catch(() => undefined);
  // Once WASM is ready, a slow or hung adapter request must not hold the first rank back.
  const answer =
    fastWasm && (await fastWasm)
      ? await Promise.race([adapterAnswer, new Promise<null>((r) => setTimeout(() => r(null), ADAPTER_GRACE_MS))])
      : await adapterAnswer;
  if (answer === null) {
    warnings.push(`WebGPU adapter request unanswered ${ADAPTER_GRACE_MS} ms after WASM was ready: ranking on wasm, no WebGPU on this page`);
    fail('webgpu', 'the adapter request did not answer in time', false);
  } else if ('err' in answer) warnings.push(`WebGPU adapter request failed: ${messageOf(answer.err)}`);
  else adapter = answer.found;
  const software = SOFTWARE;
  const raceKey = adapter && keyOf(adapter);
  const ready = await fastWasm;
  if (ready && !adapter) {
    if (!failed.has('webgpu')) fail('webgpu', 'no WebGPU adapter', false);
    return { scorer: ready, adapter, warnings, selection: { reason: `fell back to wasm (${causes()})` } };
  }
  if (ready && adapter && raceKey) {
    const remembered = adapter.isFallbackAdapter ? await rememberedEarly : undefined;
    if (remembered?.backend === 'wasm') {
      const reason = `${software}: wasm won the warm-up race on an earlier visit`;
      return { scorer: ready, adapter, warnings, selection: { reason, timingsMs: remembered.timingsMs } };
    }
    const plan: BackgroundPlan = adapter.isFallbackAdapter
      ? remembered
        ? { kind: 'remembered', key: raceKey, timingsMs: remembered.timingsMs }
        : { kind: 'race', key: raceKey }
      : { kind: 'hardware' };
    const switching = new SwitchingScorer(ready);
    const background = new Background(plan, ready, switching, deps, inputWidth);
    return { scorer: switching, adapter, warnings, selection: background.initialSelection(), background };
  }

  // `auto` without a working WASM (or without an adapter): the first rank waits for what starts.
  if (option === 'auto' && adapter?.isFallbackAdapter && raceKey) {
    const remembered = await rememberedEarly;
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
    return { scorer, adapter, selection: { reason: failed.size ? `${reason} (${causes()})` : reason }, warnings };
  }
  throw new Error(`no tfjs backend could run the model (${causes()})`);
}

/** What `auto` still has to find out once WASM ranks. */
type BackgroundPlan =
  | { kind: 'race'; key: string }
  | { kind: 'remembered'; key: string; timingsMs: Partial<Record<BackendName, number>> }
  | { kind: 'hardware' };

/**
 * Background selection for `auto`: WebGPU is prepared (and, on a software adapter, raced against
 * the WASM scorer that ranks meanwhile) in short exclusive() turns, so ranks keep flowing; the
 * winner takes over through the SwitchingScorer, which disposes the loser.
 */
class Background implements BackgroundSelection {
  readonly candidate: BackendName = 'webgpu';
  readonly done: Promise<void>;
  private finish!: () => void;
  private readonly abort = new AbortController();
  private started = false;
  private ran = false;
  private unschedule?: () => void;

  constructor(
    private readonly plan: BackgroundPlan,
    private readonly wasm: TfjsScorer,
    private readonly switching: SwitchingScorer,
    private readonly deps: SelectionDeps,
    private readonly inputWidth: number,
  ) {
    this.done = new Promise<void>((resolve) => (this.finish = resolve));
  }

  /** What the status says while the work is pending. */
  initialSelection(): BackendSelection {
    const pending = { pending: this.candidate };
    switch (this.plan.kind) {
      case 'race':
        return {
          reason: `${SOFTWARE}: ranking on wasm at once; racing webgpu against it in the background, a switch may follow`,
          ...pending,
        };
      case 'remembered':
        return {
          reason: `${SOFTWARE}: webgpu won the warm-up race on an earlier visit; ranking on wasm until webgpu is warm, then switching`,
          timingsMs: this.plan.timingsMs,
          ...pending,
        };
      case 'hardware':
        return {
          reason: `${HARDWARE}: ranking on wasm until webgpu has compiled its shaders in the background, then switching`,
          ...pending,
        };
    }
  }

  start(events: BackgroundEvents): void {
    if (this.started || this.abort.signal.aborted) return;
    this.started = true;
    this.unschedule = this.deps.schedule(() => {
      if (this.ran || this.abort.signal.aborted) return;
      this.ran = true;
      // run() reports its own failures; this catch only keeps a bug in an event handler from going unhandled.
      this.run(events)
        .catch(() => undefined)
        .finally(this.finish);
    });
  }

  cancel(): void {
    if (this.abort.signal.aborted) return;
    this.abort.abort(new Error('background backend selection cancelled'));
    this.unschedule?.();
    // Never ran: nothing to clean up. Otherwise run() settles `done` once its current step is cleaned up.
    if (!this.ran) this.finish();
  }

  private async run(events: BackgroundEvents): Promise<void> {
    const { plan, deps, abort } = this;
    const signal = abort.signal;
    const timingsMs: Partial<Record<BackendName, number>> = plan.kind === 'remembered' ? { ...plan.timingsMs } : {};
    let gpu: TfjsScorer | undefined;
    let step = 'prepare';
    try {
      if (plan.kind === 'race') {
        gpu = await deps.prepare('webgpu', [RACE_BATCH], signal);
        step = 'race';
        timingsMs.webgpu = await deps.time(gpu);
        signal.throwIfAborted();
        const webgpuTime = timingsMs.webgpu;
        step = 'wasm-race';
        timingsMs.wasm = await deps.time(this.wasm);
        signal.throwIfAborted();
        if (timingsMs.wasm < webgpuTime) {
          gpu.dispose();
          gpu = undefined;
          await deps.writeRace(plan.key, { backend: 'wasm', timingsMs: { ...timingsMs } });
          signal.throwIfAborted();
          events.onSelection('wasm', { reason: `${SOFTWARE}: wasm was faster on a ${RACE_BATCH}-candidate warm-up`, timingsMs });
          return;
        }
        step = 'warm-up';
        await gpu.warmUp(WARM_BATCHES, this.inputWidth, signal);
      } else {
        gpu = await deps.prepare('webgpu', undefined, signal);
      }
      signal.throwIfAborted();
      step = 'switch';
      const reason =
        plan.kind === 'race'
          ? `${SOFTWARE}: webgpu was faster on a ${RACE_BATCH}-candidate warm-up; switched from wasm once warm`
          : plan.kind === 'remembered'
            ? `${SOFTWARE}: webgpu won the warm-up race on an earlier visit; switched from wasm once warm`
            : `${HARDWARE}: switched from wasm once webgpu was warm`;
      const next = gpu;
      gpu = undefined; // switchTo owns it now (disposes it when the switch can't happen)
      const switched = await this.switching.switchTo(
        next,
        (from) => events.onSelection('webgpu', { reason, ...(plan.kind === 'hardware' ? {} : { timingsMs }), switchedFrom: from }),
        signal,
      );
      if (switched && plan.kind === 'race' && !signal.aborted) await deps.writeRace(plan.key, { backend: 'webgpu', timingsMs });
    } catch (err) {
      gpu?.dispose();
      if (signal.aborted) return;
      const cause =
        step === 'race'
          ? `its race batch failed (${messageOf(err)})`
          : step === 'warm-up'
            ? `its warm-up failed (${messageOf(err)})`
            : step === 'wasm-race'
              ? `the race stopped: wasm's race batch failed (${messageOf(err)})`
              : messageOf(err);
      // A remembered winner that no longer starts here is forgotten: the next visit races again.
      if (plan.kind === 'remembered') await deps.forgetRace(plan.key);
      if (signal.aborted) return;
      const where = plan.kind === 'hardware' ? HARDWARE : SOFTWARE;
      events.onWarning(`webgpu failed: ${cause}; ranking stays on wasm`);
      events.onSelection('wasm', {
        reason: `${where}: webgpu failed in the background (${cause}); ranking stays on wasm`,
        ...(Object.keys(timingsMs).length ? { timingsMs } : {}),
      });
    }
  }
}

const SOFTWARE = 'software WebGPU adapter (isFallbackAdapter)';
const HARDWARE = 'hardware WebGPU adapter';

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
