/** Owns the SQL of the merchant policy: `policies` (rules and segments), `policy_versions` and `policy_segments`, `pacing_state`. */
import type { Rules, Segment } from '@vitrine/core/policy';
import type { PacingState } from '../pacing/controller';
import { fromJson, type Queryable } from './db';

export interface StoredPolicy {
  rules: Rules;
  segments: Segment[];
  /** Who set it: 'admin' (PUT /v1/admin/policy) or 'file:<name>' (VITRINE_POLICY_FILE). */
  source: string;
  updatedAt: number;
}

export async function insertPolicy(db: Queryable, p: Omit<StoredPolicy, 'updatedAt'>): Promise<void> {
  await db.query('insert into policies (rules, segments, source) values ($1, $2, $3)', [
    JSON.stringify(p.rules),
    JSON.stringify(p.segments),
    p.source,
  ]);
}

/** The policy in force: the newest row, or null when none was ever set. */
export async function selectCurrentPolicy(db: Queryable): Promise<StoredPolicy | null> {
  const [row] = await db.query<{ rules: Rules | string; segments: Segment[] | string; source: string; created_at: Date | string }>(
    'select rules, segments, source, created_at from policies order by id desc limit 1',
  );
  if (!row) return null;
  return {
    rules: fromJson(row.rules),
    segments: fromJson(row.segments),
    source: row.source,
    updatedAt: new Date(row.created_at).getTime(),
  };
}

/** What a served policy version's segment reports are to be read with. */
export interface VersionDefinition {
  version: string;
  /** Hash of the segment list: versions that differ only in pacing share it. */
  segmentsKey: string;
  /** The ε of segment reports asked for under this version; null: none were. */
  segmentEpsilon: number | null;
}

/** Records a served version (idempotent). */
export async function insertPolicyVersion(tx: Queryable, d: VersionDefinition, segments: Segment[]): Promise<void> {
  await tx.query('insert into policy_segments (key, segments) values ($1, $2) on conflict (key) do nothing', [
    d.segmentsKey,
    JSON.stringify(segments),
  ]);
  await tx.query(
    'insert into policy_versions (version, segments_key, segment_epsilon) values ($1, $2, $3) on conflict (version) do nothing',
    [d.version, d.segmentsKey, d.segmentEpsilon],
  );
}

export async function selectPolicyVersions(db: Queryable, versions: string[]): Promise<VersionDefinition[]> {
  if (!versions.length) return [];
  const rows = await db.query<{ version: string; segments_key: string; segment_epsilon: number | string | null }>(
    'select version, segments_key, segment_epsilon from policy_versions where version = any($1::text[])',
    [versions],
  );
  return rows.map((r) => ({
    version: r.version,
    segmentsKey: r.segments_key,
    segmentEpsilon: r.segment_epsilon === null ? null : Number(r.segment_epsilon),
  }));
}

export async function selectSegmentList(db: Queryable, key: string): Promise<Segment[] | null> {
  const [row] = await db.query<{ segments: Segment[] | string }>('select segments from policy_segments where key = $1', [key]);
  return row ? fromJson(row.segments) : null;
}

/** Pacing controller states by budget key (`activity|metric`). */
export async function selectPacingStates(db: Queryable): Promise<Map<string, PacingState>> {
  const rows = await db.query<{ budget: string; state: PacingState | string }>('select budget, state from pacing_state');
  return new Map(rows.map((r) => [r.budget, fromJson(r.state)]));
}

export async function upsertPacingState(tx: Queryable, budget: string, state: PacingState): Promise<void> {
  await tx.query(
    `insert into pacing_state (budget, state, updated_at) values ($1, $2, now())
     on conflict (budget) do update set state = excluded.state, updated_at = excluded.updated_at`,
    [budget, JSON.stringify(state)],
  );
}
