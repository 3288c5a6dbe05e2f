/** Owns the stored weight formats: sha256 content hashes, the float32 master layout, dequantized tensors, MLP view. */
import { createHash } from 'node:crypto';
import { dequantize, type MlpWeights, type ModelManifest } from '@vitrine/core/artifact';
import { exactBuffer, float32sOf } from '@vitrine/core/bytes';
import type { StoredModel } from '../store/models';

export const sha256 = (data: Uint8Array | string) => createHash('sha256').update(data).digest('hex');

/** Float32 tensors concatenated in manifest order. */
export function packMaster(manifest: ModelManifest, weights: Map<string, Float32Array>): Uint8Array {
  const parts = manifest.tensors.map((t) => weights.get(t.name)!);
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return new Uint8Array(out.buffer);
}

/** The weights a round starts from: the float32 master when there is one. */
export function masterWeights(model: StoredModel): Map<string, Float32Array> {
  if (!model.master) return decodeWeights(model);
  const all = float32sOf(model.master);
  const out = new Map<string, Float32Array>();
  let at = 0;
  for (const t of model.manifest.tensors) {
    const size = t.shape.reduce((a, b) => a * b, 1);
    out.set(t.name, all.slice(at, at + size));
    at += size;
  }
  return out;
}

/** Float32 weights of every tensor of a stored model, as devices compute with them. */
export function decodeWeights(model: StoredModel): Map<string, Float32Array> {
  const buf = exactBuffer(model.weights);
  return new Map(model.manifest.tensors.map((t) => [t.name, dequantize(t, buf)]));
}

export function toMlp(model: StoredModel, weights: Map<string, Float32Array>): MlpWeights {
  let inputs = model.manifest.featureSpec.dimension;
  return {
    layers: model.manifest.architecture.layers.map((l, i) => {
      const layer = {
        kernel: weights.get(`layers.${i}.kernel`)!,
        bias: weights.get(`layers.${i}.bias`)!,
        inputs,
        units: l.units,
        activation: l.activation as 'relu' | 'sigmoid',
      };
      inputs = l.units;
      return layer;
    }),
  };
}
