import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createHash } from 'node:crypto';
import { dequantize, pack, parseManifest, quantizeMlp, type MlpWeights, type ModelManifest } from '@vitrine/core/artifact';
import type { Db, Queryable } from '../db/db';

export interface StoredModel {
  version: string;
  /** Manifest as published for this version (file paths relative to /v1/models/<version>/). */
  manifest: ModelManifest;
  weights: Uint8Array;
  status: 'current' | 'shadow' | 'retired' | 'rejected';
  parent: string | null;
  /** Float32 master weights, tensors in manifest order; null means "use the dequantized ones". */
  master: Uint8Array | null;
}

export const sha256 = (data: Uint8Array | string) => createHash('sha256').update(data).digest('hex');

interface ModelRow { version: string; manifest: ModelManifest | string; weights: Uint8Array; status: StoredModel['status']; parent: string | null; master: Uint8Array | null }
const toModel = (r: ModelRow): StoredModel => ({
  version: r.version,
  manifest: typeof r.manifest === 'string' ? JSON.parse(r.manifest) : r.manifest,
  weights: new Uint8Array(r.weights),
  status: r.status,
  parent: r.parent,
  master: r.master ? new Uint8Array(r.master) : null,
});
const COLUMNS = 'version, manifest, weights, status, parent, master';

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
    const dir = join(dirname(seedManifestPath), dirname(file.path));
    const weights = readFileSync(join(dirname(seedManifestPath), file.path));
    if (sha256(weights) !== file.sha256 || weights.byteLength !== file.bytes) throw new Error(`${file.path}: sha256 or size does not match the manifest`);
    // The artifact's float32 twin, when published beside it, is the master copy for training.
    const master = readMaster(dir, manifest);
    await this.db.query(
      `insert into models (version, manifest, weights, status, promoted_at, master) values ($1, $2, $3, 'current', now(), $4) on conflict (version) do nothing`,
      [manifest.version, JSON.stringify(localManifest(manifest)), weights, master],
    );
    await this.refresh();
  }

  async refresh(): Promise<void> {
    const rows = await this.db.query<ModelRow>(`select ${COLUMNS} from models where status in ('current', 'shadow')`);
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
    const [row] = await this.db.query<ModelRow>(`select ${COLUMNS} from models where version = $1`, [version]);
    if (!row) return null;
    const m = toModel(row);
    this.byVersion.set(version, m);
    return m;
  }

  /** The 50 newest versions, newest first. */
  async history(): Promise<{ version: string; status: string; parent: string | null; round_id: number | null; created_at: string; promoted_at: string | null }[]> {
    return this.db.query(`select version, status, parent, round_id, created_at, promoted_at from models order by created_at desc limit 50`);
  }
}

/** The manifest as stored: one weight file, addressed relative to the version's own folder. */
function localManifest(m: ModelManifest): ModelManifest {
  return { ...m, files: m.files.map((f) => ({ ...f, path: f.path.slice(f.path.lastIndexOf('/') + 1) })) };
}

function readMaster(dir: string, manifest: ModelManifest): Uint8Array | null {
  const path = join(dir, 'manifest.float32.json');
  if (!existsSync(path)) return null;
  const twin = parseManifest(JSON.parse(readFileSync(path, 'utf8')));
  const bytes = readFileSync(join(dir, twin.files[0].path));
  if (sha256(bytes) !== twin.files[0].sha256) throw new Error(`${path}: float32 weights do not match their sha256`);
  const buf = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  return packMaster(manifest, new Map(twin.tensors.map((t) => [t.name, dequantize(t, buf)])));
}

/** Float32 tensors concatenated in manifest order. */
export function packMaster(manifest: ModelManifest, weights: Map<string, Float32Array>): Uint8Array {
  const parts = manifest.tensors.map((t) => weights.get(t.name)!);
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return new Uint8Array(out.buffer);
}

/** The weights a round starts from: the float32 master when there is one. */
export function masterWeights(model: StoredModel): Map<string, Float32Array> {
  if (!model.master) return decodeWeights(model);
  const all = new Float32Array(model.master.buffer.slice(model.master.byteOffset, model.master.byteOffset + model.master.byteLength) as ArrayBuffer);
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
export function buildCandidate(parent: StoredModel, weights: MlpWeights, lineage: Record<string, unknown>): { manifest: ModelManifest; weights: Uint8Array; master: Uint8Array } {
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
  const byName = new Map<string, Float32Array>();
  weights.layers.forEach((l, i) => { byName.set(`layers.${i}.kernel`, l.kernel); byName.set(`layers.${i}.bias`, l.bias); });
  return { manifest, weights: bin, master: packMaster(manifest, byName) };
}

export async function insertModel(tx: Queryable, m: { manifest: ModelManifest; weights: Uint8Array; master: Uint8Array }, status: StoredModel['status'], parent: string, roundId: number): Promise<void> {
  await tx.query(
    `insert into models (version, manifest, weights, status, parent, round_id, master) values ($1, $2, $3, $4, $5, $6, $7) on conflict (version) do nothing`,
    [m.manifest.version, JSON.stringify(m.manifest), m.weights, status, parent, roundId, m.master],
  );
}
