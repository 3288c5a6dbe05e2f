import type { ModelManifest } from '../artifact/manifest';

/**
 * What a device's model update covers: the first layer's bias and the output layer. These are
 * a few hundred numbers (161 for the published 80-unit model), so the update fits a keepalive
 * request and the central noise, whose size grows with the square root of the dimension, stays
 * small. Server and device use this one list.
 */
export const TRAINABLE_TENSORS = ['layers.0.bias', 'layers.1.kernel', 'layers.1.bias'] as const;

export function updateDimension(manifest: ModelManifest): number {
  return TRAINABLE_TENSORS.reduce((s, name) => {
    const t = manifest.tensors.find((x) => x.name === name);
    if (!t) throw new Error(`model has no ${name}`);
    return s + t.shape.reduce((a, b) => a * b, 1);
  }, 0);
}

/** Whether the model has the shape the update is defined for: one ReLU hidden layer, one output. */
export function supportsUpdates(manifest: ModelManifest): boolean {
  const l = manifest.architecture.layers;
  return l.length === 2 && l[0].activation === 'relu' && l[1].units === 1;
}

/** First-layer pre-activations W1 x (without bias) for dense rows: what the update needs later. */
export function preActivations(kernel: Float32Array, rows: Float32Array, n: number, inputs: number, units: number): Float32Array[] {
  const out: Float32Array[] = [];
  for (let r = 0; r < n; r++) {
    const z = new Float32Array(units);
    const base = r * inputs;
    for (let i = 0; i < inputs; i++) {
      const x = rows[base + i];
      if (x === 0) continue;
      const w = i * units;
      for (let u = 0; u < units; u++) z[u] += x * kernel[w + u];
    }
    out.push(z);
  }
  return out;
}

export interface Example {
  /** Pre-activations W1 x of the shown item, computed when it was ranked. */
  z: Float32Array;
  /** Reward in [0, 1] (the label). */
  y: number;
}

/**
 * Mean gradient of the log loss over this shopper's examples with respect to
 * [layers.0.bias, layers.1.kernel, layers.1.bias], clipped to L2 <= clipNorm, plus
 * N(0, noiseStd^2) per coordinate. Returns the noised vector and the pre-clip norm.
 */
export function clippedNoisedGradient(
  weights: Map<string, Float32Array>,
  examples: Example[],
  clipNorm: number,
  noiseStd: number,
  normal: () => number,
): { vector: number[]; norm: number } {
  const b1 = weights.get('layers.0.bias')!;
  const w2 = weights.get('layers.1.kernel')!;
  const b2 = weights.get('layers.1.bias')![0];
  const H = b1.length;
  const g = new Float64Array(2 * H + 1);
  for (const { z, y } of examples) {
    let logit = b2;
    const h = new Float64Array(H);
    for (let u = 0; u < H; u++) {
      h[u] = Math.max(0, z[u] + b1[u]);
      logit += h[u] * w2[u];
    }
    const e = 1 / (1 + Math.exp(-logit)) - y;
    for (let u = 0; u < H; u++) {
      if (h[u] > 0) g[u] += e * w2[u];
      g[H + u] += e * h[u];
    }
    g[2 * H] += e;
  }
  let s = 0;
  for (let j = 0; j < g.length; j++) {
    g[j] /= examples.length;
    s += g[j] * g[j];
  }
  const norm = Math.sqrt(s);
  const scale = norm > clipNorm ? clipNorm / norm : 1;
  const vector = Array.from(g, (x) => x * scale + (noiseStd > 0 ? noiseStd * normal() : 0));
  return { vector, norm };
}
