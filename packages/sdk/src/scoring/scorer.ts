import type { FactoredBatch } from '@vitrine/core/features';
import type { BackendName } from '../types';

/** Turns encoded feature rows into scores in [0, 1]. */
export interface Scorer {
  readonly backend: BackendName;
  score(batch: FactoredBatch): Promise<Float32Array>;
  /** Benchmarks: the bare forward pass of `score(batch)`, its per-batch JS work done up front. */
  prepareForwardPass?(batch: FactoredBatch): () => Promise<Float32Array>;
  dispose(): void;
}
