/** Owns the SQL of the `models` table; its writers are called by registry/ only, the one owner of model rows. */
import type { ModelManifest } from '@vitrine/core/artifact';
import { fromJson, type Queryable } from './db';

export type ModelStatus = 'current' | 'shadow' | 'retired' | 'rejected';

export interface StoredModel {
  version: string;
  /** Manifest as published for this version (file paths relative to /v1/models/<version>/). */
  manifest: ModelManifest;
  weights: Uint8Array;
  status: ModelStatus;
  parent: string | null;
  /** Float32 master weights, tensors in manifest order; null means "use the dequantized ones". */
  master: Uint8Array | null;
  /**
   * The newest signed publication of this version, when the server signs (registry/signing.ts):
   * what GET /v1/models/* serves instead of `manifest`. `json` is the manifest exactly as signed.
   */
  published?: { sequence: number; json: string; keyId: string; rollbackOf: string | null };
}

/** A new version's bytes: manifest, published weights and float32 master. */
export interface ModelArtifact {
  manifest: ModelManifest;
  weights: Uint8Array;
  master: Uint8Array | null;
}

export interface ModelHistoryRow {
  version: string;
  status: string;
  parent: string | null;
  round_id: number | null;
  created_at: string;
  promoted_at: string | null;
}

interface ModelRow {
  version: string;
  manifest: ModelManifest | string;
  weights: Uint8Array;
  status: ModelStatus;
  parent: string | null;
  master: Uint8Array | null;
}

const COLUMNS = 'version, manifest, weights, status, parent, master';

const toModel = (r: ModelRow): StoredModel => ({
  version: r.version,
  manifest: fromJson(r.manifest),
  weights: new Uint8Array(r.weights),
  status: r.status,
  parent: r.parent,
  master: r.master ? new Uint8Array(r.master) : null,
});

/** The current and the shadow model (at most one of each). */
export async function selectLiveModels(db: Queryable): Promise<StoredModel[]> {
  return (await db.query<ModelRow>(`select ${COLUMNS} from models where status in ('current', 'shadow')`)).map(toModel);
}

export async function selectModel(db: Queryable, version: string): Promise<StoredModel | null> {
  const [row] = await db.query<ModelRow>(`select ${COLUMNS} from models where version = $1`, [version]);
  return row ? toModel(row) : null;
}

/** The newest versions, newest first. */
export async function selectModelHistory(db: Queryable, limit = 50): Promise<ModelHistoryRow[]> {
  return db.query(`select version, status, parent, round_id, created_at, promoted_at from models order by created_at desc limit $1`, [
    limit,
  ]);
}

/** The trained artifact as the first current model; a no-op when that version is stored already. */
export async function insertSeedModel(tx: Queryable, m: ModelArtifact): Promise<void> {
  await tx.query(
    `insert into models (version, manifest, weights, status, promoted_at, master)
     values ($1, $2, $3, 'current', now(), $4) on conflict (version) do nothing`,
    [m.manifest.version, JSON.stringify(m.manifest), m.weights, m.master],
  );
}

export async function insertModel(tx: Queryable, m: ModelArtifact, status: ModelStatus, parent: string, roundId: number): Promise<void> {
  await tx.query(
    `insert into models (version, manifest, weights, status, parent, round_id, master)
     values ($1, $2, $3, $4, $5, $6, $7) on conflict (version) do nothing`,
    [m.manifest.version, JSON.stringify(m.manifest), m.weights, status, parent, roundId, m.master],
  );
}

/** Whatever is the shadow now becomes rejected (a newer candidate replaces it). */
export async function rejectCurrentShadow(tx: Queryable): Promise<void> {
  await tx.query(`update models set status = 'rejected' where status = 'shadow'`);
}

export async function retireCurrent(tx: Queryable): Promise<void> {
  await tx.query(`update models set status = 'retired' where status = 'current'`);
}

export async function makeCurrent(tx: Queryable, version: string): Promise<void> {
  await tx.query(`update models set status = 'current', promoted_at = now() where version = $1`, [version]);
}

export async function markRejected(tx: Queryable, version: string): Promise<void> {
  await tx.query(`update models set status = 'rejected' where version = $1`, [version]);
}
