import type { ModelManifest } from './manifest';

/**
 * Plain-JS forward pass of the MLP in float64. The ground truth the tfjs backends are
 * compared against (tests, shared test vectors); not used on the hot path.
 */
export function referenceScores(manifest: ModelManifest, weights: Map<string, Float32Array>, rows: Float32Array, n: number): Float64Array {
  let inputs = manifest.featureSpec.dimension;
  let act: Float64Array = Float64Array.from(rows);
  manifest.architecture.layers.forEach((layer, l) => {
    const w = weights.get(`layers.${l}.kernel`)!;
    const b = weights.get(`layers.${l}.bias`)!;
    const next = new Float64Array(n * layer.units);
    for (let r = 0; r < n; r++) {
      for (let u = 0; u < layer.units; u++) {
        let s = b[u];
        for (let i = 0; i < inputs; i++) s += act[r * inputs + i] * w[i * layer.units + u];
        next[r * layer.units + u] =
          layer.activation === 'relu' ? Math.max(0, s) : layer.activation === 'sigmoid' ? 1 / (1 + Math.exp(-s)) : s;
      }
    }
    act = next;
    inputs = layer.units;
  });
  return act;
}
