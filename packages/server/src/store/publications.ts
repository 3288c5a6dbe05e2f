/** Owns the SQL of `model_publications`: signed manifests by sequence; written by registry/ only. */
import type { Queryable } from './db';

export interface Publication {
  sequence: number;
  version: string;
  role: 'current' | 'shadow';
  /** The signed manifest exactly as signed (file paths relative to the version's folder). */
  manifest: string;
  keyId: string;
  rollbackOf: string | null;
}

interface PublicationRow {
  sequence: number | string;
  version: string;
  role: 'current' | 'shadow';
  manifest: string;
  key_id: string;
  rollback_of: string | null;
}

const toPublication = (r: PublicationRow): Publication => ({
  sequence: Number(r.sequence),
  version: r.version,
  role: r.role,
  manifest: r.manifest,
  keyId: r.key_id,
  rollbackOf: r.rollback_of,
});

/** The next sequence: one above every publication so far (the primary key refuses a concurrent duplicate). */
export async function nextSequence(tx: Queryable): Promise<number> {
  const [row] = await tx.query<{ n: number | string }>('select coalesce(max(sequence), 0) + 1 as n from model_publications');
  return Number(row.n);
}

export async function insertPublication(tx: Queryable, p: Publication): Promise<void> {
  await tx.query(
    `insert into model_publications (sequence, version, role, manifest, key_id, rollback_of) values ($1, $2, $3, $4, $5, $6)`,
    [p.sequence, p.version, p.role, p.manifest, p.keyId, p.rollbackOf],
  );
}

/** The newest publication of each of `versions`. */
export async function selectLatestPublications(db: Queryable, versions: string[]): Promise<Publication[]> {
  if (!versions.length) return [];
  const rows = await db.query<PublicationRow>(
    `select distinct on (version) sequence, version, role, manifest, key_id, rollback_of
       from model_publications where version = any($1) order by version, sequence desc`,
    [versions],
  );
  return rows.map(toPublication);
}

/** The newest publications, newest first, without their manifests (for the admin listing). */
export async function selectPublicationHistory(db: Queryable, limit = 20): Promise<Omit<Publication, 'manifest'>[]> {
  const rows = await db.query<Omit<PublicationRow, 'manifest'>>(
    `select sequence, version, role, key_id, rollback_of from model_publications order by sequence desc limit $1`,
    [limit],
  );
  return rows.map((r) => ({ sequence: Number(r.sequence), version: r.version, role: r.role, keyId: r.key_id, rollbackOf: r.rollback_of }));
}
