import { engine, env, setBackend, tensor, type Tensor } from '@tensorflow/tfjs-core';
import type { LoadedModel } from '../model/loader';
import type { BackendName } from '../types';
import type { Scorer } from './scorer';

// One inference at a time across all instances: they share one tfjs engine and backend switch.
let queue: Promise<unknown> = Promise.resolve();
function exclusive<T>(fn: () => Promise<T>): Promise<T> {
  const run = queue.then(fn, fn);
  queue = run.catch(() => undefined);
  return run;
}

/** Smallest power of two >= n (at least 32): at most 2x padding, a handful of shader variants. */
export function bucket(n: number): number {
  return Math.max(32, 2 ** Math.ceil(Math.log2(n)));
}

interface LayerTensors { kernel: Tensor; bias: Tensor; activation: 'relu' | 'linear' | 'sigmoid' }

/**
 * Runs the MLP with tfjs-core kernels only: each layer is one `_FusedMatMul` (matmul + bias +
 * activation) on 3-D tensors, so a backend needs exactly one registered kernel.
 */
export class TfjsScorer implements Scorer {
  private layers: LayerTensors[] | null = null;
  private readonly dimension: number;

  constructor(private readonly model: LoadedModel, readonly backend: BackendName) {
    this.dimension = model.manifest.featureSpec.dimension;
  }

  private async activate(): Promise<void> {
    if (engine().backendName !== this.backend) {
      const ok = await setBackend(this.backend);
      if (!ok) throw new Error(`tfjs backend ${this.backend} failed to initialise`);
    }
    if (!this.layers) {
      let inputs = this.dimension;
      this.layers = this.model.manifest.architecture.layers.map((layer, i) => {
        const kernel = tensor(this.model.weights.get(`layers.${i}.kernel`)!, [1, inputs, layer.units], 'float32');
        const bias = tensor(this.model.weights.get(`layers.${i}.bias`)!, [layer.units], 'float32');
        inputs = layer.units;
        return { kernel, bias, activation: layer.activation };
      });
    }
  }

  private forward(rows: Float32Array, n: number): Tensor {
    let x = tensor(rows, [1, n, this.dimension], 'float32');
    for (const layer of this.layers!) {
      const y = engine().runKernel('_FusedMatMul', { a: x, b: layer.kernel, bias: layer.bias }, {
        transposeA: false, transposeB: false, activation: layer.activation === 'sigmoid' ? 'sigmoid' : layer.activation,
      }) as Tensor;
      x.dispose();
      x = y;
    }
    return x;
  }

  score(rows: Float32Array, n: number): Promise<Float32Array> {
    if (n === 0) return Promise.resolve(new Float32Array(0));
    return exclusive(async () => {
      await this.activate();
      const padded = this.gpu ? bucket(n) : n;
      let input = rows;
      if (padded !== n) {
        input = new Float32Array(padded * this.dimension);
        input.set(rows.subarray(0, n * this.dimension));
      }
      const out = this.forward(input, padded);
      try {
        const scores = (await out.data()) as Float32Array;
        return padded === n ? scores : scores.slice(0, n);
      } finally {
        out.dispose();
      }
    });
  }

  /** GPU backends compile a shader per batch-shape class; padding to buckets keeps that set small. */
  private get gpu(): boolean {
    return this.backend === 'webgpu' || this.backend === 'webgl';
  }

  /**
   * Compiles the shaders before the first real call. On WebGPU, the engine's compile-only mode
   * creates pipelines asynchronously (in parallel) and we wait for all of them.
   */
  warmUp(batchSizes: number[]): Promise<void> {
    if (this.gpu) batchSizes = [...new Set(batchSizes.map(bucket))];
    return exclusive(async () => {
      await this.activate();
      const backend = engine().backend as unknown as { checkCompileCompletionAsync?: () => Promise<void>; getUniformLocations?: () => void };
      const flag = this.backend === 'webgpu' ? 'WEBGPU_ENGINE_COMPILE_ONLY' : this.backend === 'webgl' ? 'ENGINE_COMPILE_ONLY' : null;
      if (flag && backend.checkCompileCompletionAsync) {
        try {
          env().set(flag, true);
          for (const n of batchSizes) this.forward(new Float32Array(n * this.dimension), n).dispose();
        } finally {
          env().set(flag, false);
        }
        await backend.checkCompileCompletionAsync();
        // WebGL programs compiled in compile-only mode have no uniform locations until asked.
        if (this.backend === 'webgl') backend.getUniformLocations?.();
      }
      for (const n of batchSizes) {
        const out = this.forward(new Float32Array(n * this.dimension), n);
        await out.data();
        out.dispose();
      }
    });
  }

  dispose(): void {
    for (const l of this.layers ?? []) { l.kernel.dispose(); l.bias.dispose(); }
    this.layers = null;
  }
}
