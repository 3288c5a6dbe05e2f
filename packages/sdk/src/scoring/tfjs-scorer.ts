import { engine, env, setBackend, tensor, type Tensor } from '@tensorflow/tfjs-core';
import type { FactoredBatch } from '@vitrine/core/features';
import type { LoadedModel } from '../model/loader';
import type { BackendName } from '../types';
import type { Scorer } from './scorer';
import { platformYield } from '../policy/task-slicer';

// One inference at a time across all instances: they share one tfjs engine and backend switch.
// Anything that switches the engine's backend (setBackend) or runs kernels takes a turn here;
// a turn must stay short (never the wait for shader compilation), so ranks on another backend
// keep flowing while a background backend warms up.
let queue: Promise<unknown> = Promise.resolve();
export function exclusive<T>(fn: () => Promise<T>): Promise<T> {
  const run = queue.then(fn, fn);
  queue = run.catch(() => undefined);
  return run;
}

/** CPU backend: rows per synchronous slice (about 10 ms each on a 2-core laptop). */
const CPU_CHUNK_ROWS = 2048;
const yieldToEventLoop = platformYield();

/** Bound on cached signature rows (80 floats each): a few catalogs' worth. */
const SIGNATURE_ROWS_KEPT = 4096;

/** Smallest power of two >= n (at least 32): at most 2x padding, a handful of shader variants.
 * Used for batch sizes and input widths on GPU backends. */
export function bucket(n: number): number {
  return Math.max(32, 2 ** Math.ceil(Math.log2(n)));
}

interface LayerTensors {
  kernel: Tensor;
  bias: Tensor;
  activation: 'relu' | 'linear' | 'sigmoid';
}

/**
 * Runs the MLP with tfjs-core kernels only: each layer is one `_FusedMatMul` (matmul + bias +
 * activation) on 3-D tensors, so a backend needs exactly one registered kernel. The first layer
 * takes the factored batch (see FeatureEncoder.encodeFactored): its weights and bias are folded
 * per batch in JS, so the backend multiplies tens of columns instead of hundreds.
 */
export class TfjsScorer implements Scorer {
  private rest: LayerTensors[] | null = null;
  private readonly kernel0: Float32Array;
  private readonly bias0: Float32Array;
  private readonly hidden: number;
  private readonly activation0: 'relu' | 'linear' | 'sigmoid';
  /** Summed first-layer rows of signatures seen before, by a hash of their columns (a catalog repeats them call after call). */
  private readonly signatureRows = new Map<number, { cols: Int32Array; row: Float32Array }[]>();
  private signatureRowCount = 0;

  constructor(
    private readonly model: LoadedModel,
    readonly backend: BackendName,
  ) {
    const first = model.manifest.architecture.layers[0];
    this.kernel0 = model.weights.get('layers.0.kernel')!;
    this.bias0 = model.weights.get('layers.0.bias')!;
    this.hidden = first.units;
    this.activation0 = first.activation;
  }

  /** GPU backends compile a shader per batch-shape class; padding to buckets keeps that set small. */
  private get gpu(): boolean {
    return this.backend === 'webgpu' || this.backend === 'webgl';
  }

  /** Inside an exclusive() turn: makes this scorer's backend the engine's and uploads its weights. */
  private async activate(): Promise<void> {
    if (engine().backendName !== this.backend) {
      const ok = await setBackend(this.backend);
      if (!ok || engine().backendName !== this.backend) throw new Error(`tfjs backend ${this.backend} failed to initialise`);
    }
    if (!this.rest) {
      const layers = this.model.manifest.architecture.layers;
      this.rest = layers.slice(1).map((layer, j) => {
        const i = j + 1;
        const kernel = tensor(this.model.weights.get(`layers.${i}.kernel`)!, [1, layers[i - 1].units, layer.units], 'float32');
        const bias = tensor(this.model.weights.get(`layers.${i}.bias`)!, [layer.units], 'float32');
        return { kernel, bias, activation: layer.activation };
      });
    }
  }

  /** Folds the shared entries into the bias and each signature's cross columns into one weight row. */
  private foldFirstLayer(batch: FactoredBatch, width: number): { weights: Float32Array; bias: Float32Array } {
    const h = this.hidden;
    const W = this.kernel0;
    const weights = new Float32Array(width * h);
    const v = batch.variableColumns.length;
    for (let k = 0; k < v; k++) weights.set(W.subarray(batch.variableColumns[k] * h, (batch.variableColumns[k] + 1) * h), k * h);
    batch.signatures.forEach((cols, s) => weights.set(this.signatureRow(cols), (v + s) * h));
    const bias = Float32Array.from(this.bias0);
    for (let j = 0; j < batch.shared.index.length; j++) {
      const row = batch.shared.index[j] * h;
      const x = batch.shared.value[j];
      for (let u = 0; u < h; u++) bias[u] += x * W[row + u];
    }
    return { weights, bias };
  }

  /** Σ of the first layer's weight rows over a signature's columns, cached per distinct column set. */
  private signatureRow(cols: Int32Array): Float32Array {
    let hash = cols.length;
    for (let i = 0; i < cols.length; i++) hash = Math.imul(hash ^ cols[i], 0x9e3779b1);
    const bucket = this.signatureRows.get(hash);
    const hit = bucket?.find((e) => e.cols.length === cols.length && e.cols.every((c, i) => c === cols[i]));
    if (hit) return hit.row;
    const h = this.hidden;
    const W = this.kernel0;
    const row = new Float32Array(h);
    for (const c of cols) for (let u = 0; u < h; u++) row[u] += W[c * h + u];
    if (this.signatureRowCount >= SIGNATURE_ROWS_KEPT) {
      this.signatureRows.clear();
      this.signatureRowCount = 0;
    }
    if (bucket) bucket.push({ cols: cols.slice(), row });
    else this.signatureRows.set(hash, [{ cols: cols.slice(), row }]);
    this.signatureRowCount++;
    return row;
  }

  private forward(rows: Float32Array, n: number, width: number, weights: Float32Array, bias: Float32Array): Tensor {
    const run = (x: Tensor, kernel: Tensor, b: Tensor, activation: string) =>
      engine().runKernel('_FusedMatMul', { a: x, b: kernel, bias: b }, { transposeA: false, transposeB: false, activation }) as Tensor;
    const x0 = tensor(rows, [1, n, width], 'float32');
    const k0 = tensor(weights, [1, width, this.hidden], 'float32');
    const b0 = tensor(bias, [this.hidden], 'float32');
    let x = run(x0, k0, b0, this.activation0);
    x0.dispose();
    k0.dispose();
    b0.dispose();
    for (const layer of this.rest!) {
      const y = run(x, layer.kernel, layer.bias, layer.activation);
      x.dispose();
      x = y;
    }
    return x;
  }

  score(batch: FactoredBatch): Promise<Float32Array> {
    if (batch.n === 0) return Promise.resolve(new Float32Array(0));
    return exclusive(async () => {
      await this.activate();
      const input = this.padded(batch);
      const { weights, bias } = this.foldFirstLayer(batch, input.width);
      if (this.backend !== 'cpu' || batch.n <= CPU_CHUNK_ROWS) return this.run(input, weights, bias, batch.n);
      // The CPU backend computes synchronously: score in slices with a yield between them, so a
      // large batch never holds the main thread for one long task.
      const scores = new Float32Array(batch.n);
      for (let start = 0; start < batch.n; start += CPU_CHUNK_ROWS) {
        if (start > 0) await yieldToEventLoop();
        const n = Math.min(CPU_CHUNK_ROWS, batch.n - start);
        const slice = { rows: input.rows.subarray(start * input.width, (start + n) * input.width), n, width: input.width };
        scores.set(await this.run(slice, weights, bias, n), start);
      }
      return scores;
    });
  }

  /**
   * Benchmarks: the bare forward pass `score(batch)` runs, with the per-batch JS work (padding,
   * folding the first layer) done once up front. Each call of the result is what the model
   * itself costs: upload the rows, two fused matmuls, read the scores back.
   */
  prepareForwardPass(batch: FactoredBatch): () => Promise<Float32Array> {
    const input = this.padded(batch);
    const { weights, bias } = this.foldFirstLayer(batch, input.width);
    return () =>
      exclusive(async () => {
        await this.activate();
        return this.run(input, weights, bias, batch.n);
      });
  }

  /** GPU backends get rows and width padded to buckets (a handful of shader variants). */
  private padded(batch: FactoredBatch): { rows: Float32Array; n: number; width: number } {
    const width = this.gpu ? bucket(batch.width) : batch.width;
    const n = this.gpu ? bucket(batch.n) : batch.n;
    if (width === batch.width && n === batch.n) return { rows: batch.rows, n, width };
    const rows = new Float32Array(n * width);
    for (let r = 0; r < batch.n; r++) rows.set(batch.rows.subarray(r * batch.width, (r + 1) * batch.width), r * width);
    return { rows, n, width };
  }

  private async run(input: { rows: Float32Array; n: number; width: number }, weights: Float32Array, bias: Float32Array, n: number) {
    const out = this.forward(input.rows, input.n, input.width, weights, bias);
    try {
      const scores = (await out.data()) as Float32Array;
      return input.n === n ? scores : scores.slice(0, n);
    } finally {
      out.dispose();
    }
  }

  /** Scores `n` all-zero candidates of a typical width: for warm-up and backend races. */
  scoreSynthetic(n: number, width: number): Promise<Float32Array> {
    return this.score({
      n,
      width,
      rows: new Float32Array(n * width),
      variableColumns: new Int32Array(0),
      signatures: [],
      shared: { index: new Int32Array(0), value: new Float32Array(0) },
    });
  }

  /**
   * Compiles the shaders before the first real call. On WebGPU (and WebGL), the engine's
   * compile-only mode creates pipelines asynchronously (in parallel); their completion is awaited
   * outside the exclusive() turn, so other scorers keep ranking while this backend compiles.
   * Then each batch size runs once, each in its own short turn. `signal` stops it between steps
   * (it then rejects with the signal's reason); the caller still owns and disposes the scorer.
   */
  async warmUp(batchSizes: number[], inputWidth: number, signal?: AbortSignal): Promise<void> {
    if (this.gpu) batchSizes = [...new Set(batchSizes.map(bucket))];
    const width = this.gpu ? bucket(inputWidth) : inputWidth;
    const zeros = (n: number) =>
      this.forward(new Float32Array(n * width), n, width, new Float32Array(width * this.hidden), new Float32Array(this.hidden));
    type CompilingBackend = { checkCompileCompletionAsync?: () => Promise<void>; getUniformLocations?: () => void };
    const turn = <T>(fn: (backend: CompilingBackend) => Promise<T>) =>
      exclusive(async () => {
        signal?.throwIfAborted();
        await this.activate();
        return fn(engine().backend as unknown as CompilingBackend);
      });
    const flag = this.backend === 'webgpu' ? 'WEBGPU_ENGINE_COMPILE_ONLY' : this.backend === 'webgl' ? 'ENGINE_COMPILE_ONLY' : null;
    // Wrapped in an object: an async function returning the promise itself would hold the turn until it settles.
    const compiling = await turn(async (backend) => {
      if (!flag || !backend.checkCompileCompletionAsync) return undefined;
      try {
        env().set(flag, true);
        for (const n of batchSizes) zeros(n).dispose();
      } finally {
        env().set(flag, false);
      }
      const done = backend.checkCompileCompletionAsync();
      done.catch(() => undefined);
      return { done };
    });
    if (compiling) {
      await compiling.done;
      // WebGL programs compiled in compile-only mode have no uniform locations until asked.
      if (this.backend === 'webgl') await turn(async (backend) => backend.getUniformLocations?.());
    }
    for (const n of batchSizes) {
      await turn(async () => {
        const out = zeros(n);
        try {
          await out.data();
        } finally {
          out.dispose();
        }
      });
    }
  }

  dispose(): void {
    for (const l of this.rest ?? []) {
      l.kernel.dispose();
      l.bias.dispose();
    }
    this.rest = null;
  }
}
