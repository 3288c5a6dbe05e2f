/** Owns building a candidate version from float weights (quantize, pack, hash): the registry's artifact format, not round math. */
// It lives in registry/ rather than rounds/ because a version IS its artifact: the name is the
// content hash, the quantization scheme and manifest come from the parent, and the float32
// master uses the layout the registry reads back (weights.ts), the same one bootstrap stores.
// A round hands over float weights and its lineage; it never sees bytes or hashes.
import { pack, parseManifest, quantizeMlp, type MlpWeights, type ModelManifest } from '@vitrine/core/artifact';
import type { ModelArtifact, StoredModel } from '../store/models';
import { packMaster, sha256 } from './weights';

export interface Candidate extends ModelArtifact {
  master: Uint8Array;
  /** Version it was derived from. */
  parent: string;
}

/**
 * Packs updated float weights as a new version of the parent's architecture and feature spec,
 * quantized with the parent's scheme; the version is derived from the bytes (content address).
 */
export function buildCandidate(
  parent: StoredModel,
  weights: MlpWeights,
  lineage: Record<string, unknown>,
  head?: ModelManifest['head'],
): Candidate {
  const scheme = (parent.manifest.quantization?.scheme as 'uint8-per-channel' | 'float16' | 'float32' | undefined) ?? 'uint8-per-channel';
  const { tensors } = quantizeMlp(weights, scheme);
  const { bin, entries } = pack(tensors);
  const hash = sha256(bin);
  const manifest: ModelManifest = {
    ...parent.manifest,
    architecture: { kind: 'mlp', layers: weights.layers.map((l) => ({ units: l.units, activation: l.activation })) },
    ...(head ? { head } : {}),
    version: `${parent.manifest.name}-${hash.slice(0, 12)}`,
    createdAt: new Date().toISOString(),
    files: [{ path: 'weights.bin', bytes: bin.byteLength, sha256: hash }],
    tensors: entries,
    training: {
      ...lineage,
      parent: parent.version,
      parentTraining: parent.manifest.training?.command ?? parent.manifest.training?.method ?? null,
    },
    metrics: {},
  };
  parseManifest(manifest);
  const byName = new Map<string, Float32Array>();
  weights.layers.forEach((l, i) => {
    byName.set(`layers.${i}.kernel`, l.kernel);
    byName.set(`layers.${i}.bias`, l.bias);
  });
  return { manifest, weights: bin, master: packMaster(manifest, byName), parent: parent.version };
}
