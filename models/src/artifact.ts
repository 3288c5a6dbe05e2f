import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  MODEL_FORMAT,
  pack,
  parseManifest,
  type MlpWeights,
  type ModelManifest,
  type QuantizationScheme,
  type QuantizedTensor,
} from '@vitrine/core/artifact';
import type { FeatureSpec } from '@vitrine/core/features';
import { type UpdatePrior } from '@vitrine/core/privacy';

export function sha256(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export interface ArtifactInput {
  name: string;
  spec: FeatureSpec;
  weights: MlpWeights;
  tensors: QuantizedTensor[];
  /** The same weights unquantized, published beside as `manifest.float32.json` for evaluation. */
  float32Tensors: QuantizedTensor[];
  scheme: QuantizationScheme;
  training: Record<string, unknown>;
  metrics: Record<string, unknown>;
  /** Written beside the version as update-prior.{json,bin}: what the server's rounds need from the seed data. */
  updatePrior?: UpdatePrior;
}

/**
 * Writes `<dir>/<version>/{manifest.json,weights.bin}` and points `<dir>/manifest.json` at it.
 * The version is derived from the weight bytes, so the same data and seed give the same version.
 */
export function writeArtifact(
  dir: string,
  input: ArtifactInput,
): { version: string; manifest: ModelManifest; bytes: number; downloadBytes: number } {
  const { bin, entries } = pack(input.tensors);
  const binHash = sha256(bin);
  const version = `${input.name}-${binHash.slice(0, 12)}`;
  const manifest = (
    relative: string,
    file: string,
    data: Uint8Array,
    tensors: ModelManifest['tensors'],
    scheme: string,
    suffix = '',
  ): ModelManifest => ({
    format: MODEL_FORMAT,
    name: input.name,
    version: `${version}${suffix}`,
    createdAt: new Date().toISOString(),
    featureSpec: input.spec,
    architecture: { kind: 'mlp', layers: input.weights.layers.map((l) => ({ units: l.units, activation: l.activation })) },
    files: [{ path: `${relative}${file}`, bytes: data.byteLength, sha256: sha256(data) }],
    tensors,
    quantization: { scheme },
    training: input.training,
    metrics: input.metrics,
  });
  const versioned = manifest('', 'weights.bin', bin, entries, input.scheme);
  parseManifest(versioned); // the SDK must accept what we publish
  const f32 = pack(input.float32Tensors);
  mkdirSync(join(dir, version), { recursive: true });
  writeFileSync(join(dir, version, 'weights.bin'), bin);
  writeFileSync(join(dir, version, 'manifest.json'), `${JSON.stringify(versioned)}\n`);
  writeFileSync(join(dir, version, 'weights.float32.bin'), f32.bin);
  writeFileSync(
    join(dir, version, 'manifest.float32.json'),
    `${JSON.stringify(manifest('', 'weights.float32.bin', f32.bin, f32.entries, 'float32', '-float32'))}\n`,
  );
  if (input.updatePrior) writeUpdatePrior(join(dir, version), version, input.updatePrior);
  const root = `${JSON.stringify(manifest(`${version}/`, 'weights.bin', bin, entries, input.scheme))}\n`;
  writeFileSync(join(dir, 'manifest.json'), root);
  return { version, manifest: versioned, bytes: bin.byteLength, downloadBytes: bin.byteLength + Buffer.byteLength(root) };
}

/** `update-prior.json` (clip norms, counts) and `update-prior.bin` (the Fisher matrix, float32) of `version`. */
export function writeUpdatePrior(versionDir: string, version: string, prior: UpdatePrior): void {
  const bin = new Uint8Array(Float32Array.from(prior.fisher).buffer);
  writeFileSync(join(versionDir, 'update-prior.bin'), bin);
  const { fisher: _f, ...rest } = prior;
  const file = { ...rest, model: version, fisher: { path: 'update-prior.bin', sha256: sha256(bin) } };
  writeFileSync(join(versionDir, 'update-prior.json'), `${JSON.stringify(file, null, 1)}\n`);
}
