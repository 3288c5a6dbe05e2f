import type { MlpWeights, ModelManifest } from '../artifact';

/**
 * What devices learn: a residual logistic head on top of the published MLP, which stays frozen.
 * Its inputs are the encoder's row x (D numbers), the frozen hidden units' activations h (U),
 * and 1; the model's logit becomes f(x) + θ·[x; h; 1]. The hidden-unit part re-weights the
 * MLP's own output layer; the x part scores offer × context crosses and shopper attributes
 * directly. The head is published folded into the same two-layer ReLU network (two extra
 * units, relu(z) − relu(−z) = z), so every backend scores it unchanged.
 */
export const UPDATE_METHOD = 'residual-logistic-head@1';

export interface HeadLayout {
  /** Encoder dimension D. */
  inputs: number;
  /** Hidden units of the frozen MLP (the folded head's two units come after them). */
  frozenUnits: number;
  /** D + U + 1: the length of θ, of each update vector and of the prior's side. */
  dimension: number;
}

/** The head's layout for a published model, or null when the model is not a one-hidden-layer ReLU MLP. */
export function headLayout(manifest: ModelManifest): HeadLayout | null {
  const layers = manifest.architecture.layers;
  if (layers.length !== 2 || layers[0].activation !== 'relu' || layers[1].units !== 1 || layers[1].activation !== 'sigmoid') return null;
  const frozenUnits = manifest.head ? manifest.head.frozenUnits : layers[0].units;
  if (layers[0].units !== frozenUnits + (manifest.head ? 2 : 0)) return null;
  const inputs = manifest.featureSpec.dimension;
  return { inputs, frozenUnits, dimension: inputs + frozenUnits + 1 };
}

export function supportsUpdates(manifest: ModelManifest): boolean {
  return headLayout(manifest) !== null;
}

export function updateDimension(manifest: ModelManifest): number {
  const layout = headLayout(manifest);
  if (!layout) throw new Error(`model ${manifest.version} does not support updates`);
  return layout.dimension;
}

/** One example's head inputs [x; h; 1], sparse, and the full published model's logit. */
export interface HeadExample {
  index: number[];
  value: number[];
  logit: number;
}

/** Head inputs and logits of dense encoded rows under a published model's weights. */
export function headExamples(layout: HeadLayout, weights: Map<string, Float32Array>, rows: ArrayLike<number>, n: number): HeadExample[] {
  const w1 = weights.get('layers.0.kernel')!;
  const b1 = weights.get('layers.0.bias')!;
  const w2 = weights.get('layers.1.kernel')!;
  const b2 = weights.get('layers.1.bias')!;
  const units = b1.length;
  const { inputs, frozenUnits } = layout;
  const out: HeadExample[] = [];
  const z = new Float64Array(units);
  for (let r = 0; r < n; r++) {
    const index: number[] = [];
    const value: number[] = [];
    z.set(b1);
    for (let i = 0; i < inputs; i++) {
      const x = rows[r * inputs + i];
      if (x === 0) continue;
      index.push(i);
      value.push(x);
      for (let u = 0; u < units; u++) z[u] += x * w1[i * units + u];
    }
    let logit = b2[0];
    for (let u = 0; u < units; u++) {
      const h = Math.max(0, z[u]);
      logit += h * w2[u];
      if (u < frozenUnits && h > 0) {
        index.push(inputs + u);
        value.push(h);
      }
    }
    index.push(layout.dimension - 1);
    value.push(1);
    out.push({ index, value, logit });
  }
  return out;
}

export interface SufficientStatistics {
  /** Σ u (p − y), scaled to L2 norm ≤ clipGradient. */
  gradient: Float64Array;
  /** Σ p (1 − p) u² (the diagonal of the log-loss Hessian), scaled to L2 norm ≤ clipCurvature. */
  curvature: Float64Array;
  gradientNorm: number;
  curvatureNorm: number;
}

/**
 * A device's contribution for one round: the clipped gradient sum and clipped diagonal
 * curvature of the log loss of its own events, at the model it ranks with. Clipping bounds
 * what one device can add to the sums the server noises (the sensitivity).
 */
export function sufficientStatistics(
  examples: { example: HeadExample; reward: number }[],
  dimension: number,
  clipGradient: number,
  clipCurvature: number,
): SufficientStatistics {
  const gradient = new Float64Array(dimension);
  const curvature = new Float64Array(dimension);
  for (const { example, reward } of examples) {
    const p = 1 / (1 + Math.exp(-example.logit));
    const e = p - reward;
    const w = p * (1 - p);
    example.index.forEach((j, k) => {
      if (j < 0 || j >= dimension) return;
      const u = example.value[k];
      gradient[j] += u * e;
      curvature[j] += w * u * u;
    });
  }
  return {
    gradient,
    curvature,
    gradientNorm: clipInPlace(gradient, clipGradient),
    curvatureNorm: clipInPlace(curvature, clipCurvature),
  };
}

/** Scales `v` onto the L2 ball of radius `bound`; returns the norm before. */
export function clipInPlace(v: Float64Array, bound: number): number {
  let s = 0;
  for (let j = 0; j < v.length; j++) s += v[j] * v[j];
  const norm = Math.sqrt(s);
  if (norm > bound) for (let j = 0; j < v.length; j++) v[j] *= bound / norm;
  return norm;
}

export function l2Norm(v: ArrayLike<number>): number {
  let s = 0;
  for (let j = 0; j < v.length; j++) s += v[j] * v[j];
  return Math.sqrt(s);
}

/**
 * The published network for frozen MLP weights (U hidden units) and head θ: U + 2 hidden
 * units. θ's hidden-unit part is added to the output kernel, its bias to the output bias, and
 * its x part becomes units U and U + 1 with output weights ±m: m·relu(z/m) − m·relu(−z/m) = z.
 * m is the largest output weight, so ±m are the ends of the output kernel's quantization range
 * and are represented exactly.
 */
export function foldHead(frozen: MlpWeights, theta: ArrayLike<number>, layout: HeadLayout): MlpWeights {
  const [l0, l1] = frozen.layers;
  const { inputs, frozenUnits: U } = layout;
  if (l0.units !== U || l0.inputs !== inputs || theta.length !== layout.dimension) throw new Error('foldHead: shapes do not match');
  const out2 = new Float32Array(U + 2);
  let m = 1e-3;
  for (let u = 0; u < U; u++) {
    out2[u] = l1.kernel[u] + theta[inputs + u];
    m = Math.max(m, Math.abs(out2[u]));
  }
  out2[U] = m;
  out2[U + 1] = -m;
  const kernel0 = new Float32Array(inputs * (U + 2));
  for (let i = 0; i < inputs; i++) {
    for (let u = 0; u < U; u++) kernel0[i * (U + 2) + u] = l0.kernel[i * U + u];
    kernel0[i * (U + 2) + U] = theta[i] / m;
    kernel0[i * (U + 2) + U + 1] = -theta[i] / m;
  }
  const bias0 = new Float32Array(U + 2);
  bias0.set(l0.bias);
  return {
    layers: [
      { ...l0, kernel: kernel0, bias: bias0, units: U + 2 },
      { ...l1, inputs: U + 2, kernel: out2, bias: Float32Array.of(l1.bias[0] + theta[layout.dimension - 1]) },
    ],
  };
}

/** θ of a folded network (the inverse of foldHead); zeros for the frozen network itself. */
export function unfoldHead(frozen: MlpWeights, published: MlpWeights, layout: HeadLayout): Float64Array {
  const theta = new Float64Array(layout.dimension);
  const f1 = frozen.layers[1];
  const [p0, p1] = published.layers;
  const { inputs, frozenUnits: U } = layout;
  if (p0.units === U) return theta;
  const m = p1.kernel[U];
  for (let i = 0; i < inputs; i++) theta[i] = p0.kernel[i * (U + 2) + U] * m;
  for (let u = 0; u < U; u++) theta[inputs + u] = p1.kernel[u] - f1.kernel[u];
  theta[layout.dimension - 1] = p1.bias[0] - f1.bias[0];
  return theta;
}
