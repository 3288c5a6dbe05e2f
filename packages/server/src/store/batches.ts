/** Owns the SQL of the `batches` table; batches are stored as their wire JSON, encoded and decoded only here. */
import { eventFromWire, eventToWire, type SignalBatch, type SignalEvent, type WireEvent } from '@vitrine/core/protocol';
import { fromJson, type Queryable } from './db';

/** A batch as received: the sender's network key (never its address) and the hash of its body. */
export interface ReceivedBatch {
  batch: SignalBatch;
  network: string;
  bodyHash: string;
}

/**
 * One multi-row INSERT ... ON CONFLICT DO NOTHING of batches with distinct ids. Returns the ids
 * that were new, and the ids already stored with a different body (a reused id: refused, never
 * merged). Events and updates keep the wire format (`a, s, p, r, t, q, c`, `g`, `h`); a segment
 * report (`seg`) is kept as its policy version and reported index.
 */
export async function insertBatches(tx: Queryable, received: ReceivedBatch[]): Promise<{ fresh: Set<string>; conflicting: Set<string> }> {
  const rows = await tx.query<{ id: string }>(
    `insert into batches (id, model, shadow, events, n_events, update_vec, curvature_vec, network, body_hash, seg_policy, seg_index)
     select * from unnest($1::text[], $2::text[], $3::text[], $4::jsonb[], $5::int[], $6::jsonb[], $7::jsonb[], $8::text[], $9::text[],
       $10::text[], $11::int[])
     on conflict (id) do nothing returning id`,
    [
      received.map((r) => r.batch.id),
      received.map((r) => r.batch.model),
      received.map((r) => r.batch.shadow ?? null),
      received.map((r) => JSON.stringify(r.batch.events.map(eventToWire))),
      received.map((r) => r.batch.events.length),
      received.map((r) => (r.batch.update ? JSON.stringify(r.batch.update.gradient) : null)),
      received.map((r) => (r.batch.update ? JSON.stringify(r.batch.update.curvature) : null)),
      received.map((r) => r.network),
      received.map((r) => r.bodyHash),
      received.map((r) => r.batch.segment?.policy ?? null),
      received.map((r) => r.batch.segment?.index ?? null),
    ],
  );
  const fresh = new Set(rows.map((r) => r.id));
  const seen = received.filter((r) => !fresh.has(r.batch.id));
  const conflicting = new Set<string>();
  if (seen.length) {
    const stored = await tx.query<{ id: string; body_hash: string | null }>(
      'select id, body_hash from batches where id = any($1::text[])',
      [seen.map((r) => r.batch.id)],
    );
    const hashOf = new Map(stored.map((r) => [r.id, r.body_hash]));
    for (const r of seen) if (hashOf.get(r.batch.id) !== r.bodyHash) conflicting.add(r.batch.id);
  }
  return { fresh, conflicting };
}

export interface PendingUpdate {
  id: string;
  model: string;
  network: string;
  receivedAt: number;
  events: SignalEvent[];
  gradient: number[];
  curvature: number[];
}

/** Updates not yet used by any round, sent for one of `models`, in batch-id order. */
export async function selectPendingUpdates(db: Queryable, models: string[]): Promise<PendingUpdate[]> {
  const rows = await db.query<{
    id: string;
    model: string;
    network: string | null;
    received_at: Date | string;
    update_vec: number[] | string;
    curvature_vec: number[] | string | null;
    events: WireEvent[] | string;
  }>(
    `select id, model, network, received_at, update_vec, curvature_vec, events from batches
     where round_id is null and update_vec is not null and curvature_vec is not null and model = any($1::text[]) order by id`,
    [models],
  );
  return rows.map((r) => ({
    id: r.id,
    model: r.model,
    // Rows from before network keys existed each count as their own network.
    network: r.network ?? `batch:${r.id}`,
    receivedAt: new Date(r.received_at).getTime(),
    events: fromJson(r.events).map(eventFromWire),
    gradient: fromJson(r.update_vec),
    curvature: fromJson(r.curvature_vec!),
  }));
}

/** Marks batches as used by a round (their privacy cost is spent: no later round reuses them). */
export async function assignBatchesToRound(tx: Queryable, roundId: number, ids: string[]): Promise<void> {
  await tx.query(`update batches set round_id = $1 where round_id is null and id = any($2::text[])`, [roundId, ids]);
}

/** Every event logged under `current` by devices that also reported for `shadow`, with its batch's network. */
export async function selectShadowEvents(db: Queryable, shadow: string, current: string): Promise<(SignalEvent & { network: string })[]> {
  const rows = await db.query<{ id: string; network: string | null; events: WireEvent[] | string }>(
    `select id, network, events from batches where shadow = $1 and model = $2`,
    [shadow, current],
  );
  return rows.flatMap((r) => fromJson(r.events).map((e) => ({ ...eventFromWire(e), network: r.network ?? `batch:${r.id}` })));
}

export async function selectBatchTotals(db: Queryable): Promise<{ batches: number; events: number; updates: number }> {
  const [b] = await db.query<{ batches: string; events: string; updates: string }>(
    `select count(*) as batches, coalesce(sum(n_events), 0) as events, count(update_vec) as updates from batches`,
  );
  return { batches: Number(b.batches), events: Number(b.events), updates: Number(b.updates) };
}

/** A stored batch as the admin report reads it (no update vectors, no network key). */
export interface ReportBatch {
  id: string;
  receivedAt: number;
  model: string;
  shadow: string | null;
  segment: { policy: string; index: number } | null;
  events: SignalEvent[];
}

/** Batches received since `since` (epoch ms), oldest first. */
export async function selectReportBatches(db: Queryable, since: number): Promise<ReportBatch[]> {
  const rows = await db.query<{
    id: string;
    received_at: Date | string;
    model: string;
    shadow: string | null;
    seg_policy: string | null;
    seg_index: number | null;
    events: WireEvent[] | string;
  }>(
    `select id, received_at, model, shadow, seg_policy, seg_index, events from batches
     where received_at >= $1::timestamptz order by received_at, id`,
    [new Date(since).toISOString()],
  );
  return rows.map((r) => ({
    id: r.id,
    receivedAt: new Date(r.received_at).getTime(),
    model: r.model,
    shadow: r.shadow,
    segment: r.seg_policy !== null && r.seg_index !== null ? { policy: r.seg_policy, index: Number(r.seg_index) } : null,
    events: fromJson(r.events).map(eventFromWire),
  }));
}

/** Batches and events received per hour (epoch ms of the hour) since `since`. */
export async function selectHourlyTotals(db: Queryable, since: number): Promise<{ hour: number; batches: number; events: number }[]> {
  const rows = await db.query<{ h: string | number; batches: string | number; events: string | number }>(
    `select floor(extract(epoch from received_at) / 3600) as h, count(*) as batches, coalesce(sum(n_events), 0) as events
     from batches where received_at >= $1::timestamptz group by 1 order by 1`,
    [new Date(since).toISOString()],
  );
  return rows.map((r) => ({ hour: Number(r.h) * 3_600_000, batches: Number(r.batches), events: Number(r.events) }));
}

/**
 * Per activity among `activities`, in batches received since `since`: impressions (events),
 * redemptions (events with reward 1) and the batches that held the activity.
 */
export async function selectActivityCounts(
  db: Queryable,
  since: number,
  activities: string[],
): Promise<Map<string, { impressions: number; redemptions: number; batches: number }>> {
  if (!activities.length) return new Map();
  const rows = await db.query<{ a: string; impressions: string | number; redemptions: string | number; batches: string | number }>(
    `select e->>'a' as a, count(*) as impressions, count(*) filter (where (e->>'r')::float8 >= 1) as redemptions,
       count(distinct b.id) as batches
     from batches b cross join lateral jsonb_array_elements(b.events) e
     where b.received_at >= $1::timestamptz and e->>'a' = any($2::text[]) group by 1`,
    [new Date(since).toISOString(), activities],
  );
  return new Map(
    rows.map((r) => [r.a, { impressions: Number(r.impressions), redemptions: Number(r.redemptions), batches: Number(r.batches) }]),
  );
}
