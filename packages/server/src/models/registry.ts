import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createHash } from 'node:crypto';
import { parseManifest, type ModelManifest } from '../../../sdk/src/model/manifest';
import { dequantize } from '../../../sdk/src/model/dequantize';
import { pack } from '../../../../models/src/artifact';
import { quantizeMlp } from '../../../../models/src/quantize';
import type { MlpWeights } from '../../../../models/src/mlp';
import type { Db, Queryable } from '../db/db';

export interface StoredModel {
  version: string;
  /** Manifest as published for this version (file paths relative to /v1/models/<version>/). */
  manifest: ModelManifest;
  weights: Uint8Array;
  status: 'current' | 'shadow' | 'retired' | 'rejected';
  parent: string | null;
}

export const sha256 = (data: Uint8Array | string) => createHash('sha256').update(data).digest('hex');

interface ModelRow { version: string; manifest: ModelManifest | string; weights: Uint8Array; status: StoredModel['status']; parent: string | null }
const toModel = (r: ModelRow): StoredModel => ({
  version: r.version,
  manifest: typeof r.manifest === 'string' ? JSON.parse(r.manifest) : r.manifest,
  weights: new Uint8Array(r.weights),
  status: r.status,
  parent: r.parent,
});

/** Models by status and version, with a small cache: versions are immutable. */
export class ModelRegistry {
  private byVersion = new Map<string, StoredModel>();
  private current: StoredModel | null = null;
  private shadow: StoredModel | null = null;

  constructor(private readonly db: Db) {}

  /** First start: publish the trained artifact (verified by its sha256) as the current model. */
  async bootstrap(seedManifestPath: string): Promise<void> {
    await this.refresh();
    if (this.current) return;
    const root = JSON.parse(readFileSync(seedManifestPath, 'utf8'));
    const manifest = parseManifest(root);
    if (manifest.files.length !== 1) throw new Error(`${seedManifestPath}: expected one weight file`);
    const file = manifest.files[0];
    const weights = readFileSync(join(dirname(seedManifestPath), file.path));
    if (sha256(weights) !== file.sha256 || weights.byteLength !== file.bytes) throw new Error(`${file.path}: sha256 or size does not match the manifest`);
    await this.db.query(
      `insert into models (version, manifest, weights, status, promoted_at) values ($1, $2, $3, 'current', now()) on conflict (version) do nothing`,
      [manifest.version, JSON.stringify(localManifest(manifest)), weights],
    );
    await this.refresh();
  }

  async refresh(): Promise<void> {
    const rows = await this.db.query<ModelRow>(`select version, manifest, weights, status, parent from models where status in ('current', 'shadow')`);
    this.current = null;
    this.shadow = null;
    for (const r of rows) {
      const m = toModel(r);
      this.byVersion.set(m.version, m);
      if (m.status === 'current') this.current = m;
      else this.shadow = m;
    }
  }

  getCurrent(): StoredModel | null { return this.current; }
  getShadow(): StoredModel | null { return this.shadow; }

  async get(version: string): Promise<StoredModel | null> {
    const hit = this.byVersion.get(version);
    if (hit) return hit;
    const [row] = await this.db.query<ModelRow>('select version, manifest, weights, status, parent from models where version = $1', [version]);
    if (!row) return null;
    const m = toModel(row);
    this.byVersion.set(version, m);
    return m;
  }

  async history(): Promise<{ version: string; status: string; parent: string | null; round_id: number | null; created_at: string; promoted_at: string | null }[]> {
    return this.db.query(`select version, status, parent, round_id, created_at, promoted_at from models order by created_at`);
  }
}

/** The manifest as stored: one weight file, addressed relative to the version's own folder. */
function localManifest(m: ModelManifest): ModelManifest {
  return { ...m, files: m.files.map((f) => ({ ...f, path: f.path.slice(f.path.lastIndexOf('/') + 1) })) };
}

/** Float32 weights of every tensor of a stored model. */
export function decodeWeights(model: StoredModel): Map<string, Float32Array> {
  const buf = model.weights.buffer.slice(model.weights.byteOffset, model.weights.byteOffset + model.weights.byteLength) as ArrayBuffer;
  return new Map(model.manifest.tensors.map((t) => [t.name, dequantize(t, buf)]));
}

export function toMlp(model: StoredModel, weights: Map<string, Float32Array>): MlpWeights {
  let inputs = model.manifest.featureSpec.dimension;
  return {
    layers: model.manifest.architecture.layers.map((l, i) => {
      const layer = { kernel: weights.get(`layers.${i}.kernel`)!, bias: weights.get(`layers.${i}.bias`)!, inputs, units: l.units, activation: l.activation as 'relu' | 'sigmoid' };
      inputs = l.units;
      return layer;
    }),
  };
}

/**
 * Packs updated float weights as a new version of the parent's architecture and feature spec,
 * quantized with the parent's scheme; the version is derived from the bytes (content address).
 */
export function buildCandidate(parent: StoredModel, weights: MlpWeights, lineage: Record<string, unknown>): { manifest: ModelManifest; weights: Uint8Array } {
  const scheme = (parent.manifest.quantization?.scheme as 'uint8-per-channel' | 'float16' | 'float32' | undefined) ?? 'uint8-per-channel';
  const { tensors } = quantizeMlp(weights, scheme);
  const { bin, entries } = pack(tensors);
  const hash = sha256(bin);
  const manifest: ModelManifest = {
    ...parent.manifest,
    version: `${parent.manifest.name}-${hash.slice(0, 12)}`,
    createdAt: new Date().toISOString(),
    files: [{ path: 'weights.bin', bytes: bin.byteLength, sha256: hash }],
    tensors: entries,
    training: { ...lineage, parent: parent.version, parentTraining: parent.manifest.training?.command ?? parent.manifest.training?.method ?? null },
    metrics: {},
  };
  parseManifest(manifest);
  return { manifest, weights: bin };
}

export async function insertModel(tx: Queryable, m: { manifest: ModelManifest; weights: Uint8Array }, status: StoredModel['status'], parent: string, roundId: number): Promise<void> {
  await tx.query(
    `insert into models (version, manifest, weights, status, parent, round_id) values ($1, $2, $3, $4, $5, $6) on conflict (version) do nothing`,
    [m.manifest.version, JSON.stringify(m.manifest), m.weights, status, parent, roundId],
  );
}
