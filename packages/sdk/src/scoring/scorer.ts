import type { BackendName } from '../types';

/** Turns encoded feature rows into scores in [0, 1]. */
export interface Scorer {
  readonly backend: BackendName;
  score(rows: Float32Array, n: number): Promise<Float32Array>;
  dispose(): void;
}
