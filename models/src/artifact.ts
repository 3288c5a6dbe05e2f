import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FeatureSpec } from '../../packages/sdk/src/features/spec';
import { MODEL_FORMAT, parseManifest, type ModelManifest } from '../../packages/sdk/src/model/manifest';
import type { MlpWeights } from './mlp';
import type { QuantizationScheme, QuantizedTensor } from './quantize';

export function sha256(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export interface ArtifactInput {
  name: string;
  spec: FeatureSpec;
  weights: MlpWeights;
  tensors: QuantizedTensor[];
  scheme: QuantizationScheme;
  training: Record<string, unknown>;
  metrics: Record<string, unknown>;
}

/**
 * Writes `<dir>/<version>/{manifest.json,weights.bin}` and points `<dir>/manifest.json` at it.
 * The version is derived from the weight bytes, so the same data and seed give the same version.
 */
export function writeArtifact(dir: string, input: ArtifactInput): { version: string; manifest: ModelManifest; bytes: number } {
  // Pack tensors, 4-byte aligned so float32 views never straddle.
  const parts: Uint8Array[] = [];
  const entries: ModelManifest['tensors'] = [];
  let offset = 0;
  for (const t of input.tensors) {
    const pad = (4 - (offset % 4)) % 4;
    if (pad) { parts.push(new Uint8Array(pad)); offset += pad; }
    entries.push({ name: t.name, file: 0, offset, shape: t.shape, dtype: t.dtype, ...(t.quant ? { quant: t.quant } : {}) });
    parts.push(t.bytes);
    offset += t.bytes.byteLength;
  }
  const bin = new Uint8Array(offset);
  let at = 0;
  for (const p of parts) { bin.set(p, at); at += p.byteLength; }
  const binHash = sha256(bin);
  const version = `${input.name}-${binHash.slice(0, 12)}`;
  const manifest = (relative: string): ModelManifest => ({
    format: MODEL_FORMAT,
    name: input.name,
    version,
    createdAt: new Date().toISOString(),
    featureSpec: input.spec,
    architecture: { kind: 'mlp', layers: input.weights.layers.map((l) => ({ units: l.units, activation: l.activation })) },
    files: [{ path: `${relative}weights.bin`, bytes: bin.byteLength, sha256: binHash }],
    tensors: entries,
    quantization: { scheme: input.scheme },
    training: input.training,
    metrics: input.metrics,
  });
  const versioned = manifest('');
  parseManifest(versioned); // the SDK must accept what we publish
  mkdirSync(join(dir, version), { recursive: true });
  writeFileSync(join(dir, version, 'weights.bin'), bin);
  writeFileSync(join(dir, version, 'manifest.json'), `${JSON.stringify(versioned, null, 1)}\n`);
  writeFileSync(join(dir, 'manifest.json'), `${JSON.stringify(manifest(`${version}/`), null, 1)}\n`);
  return { version, manifest: versioned, bytes: bin.byteLength };
}
