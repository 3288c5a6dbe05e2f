/** Float weights of the ranking MLP, layer by layer: what training produces and rounds update. */
export interface MlpWeights {
  layers: { kernel: Float32Array; bias: Float32Array; inputs: number; units: number; activation: 'relu' | 'sigmoid' }[];
}
