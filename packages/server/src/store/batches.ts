/** Owns the SQL of the `batches` table; batches are stored as their wire JSON, encoded and decoded only here. */
import { eventFromWire, eventToWire, type SignalBatch, type SignalEvent, type WireEvent } from '@vitrine/core/protocol';
import { fromJson, type Queryable } from './db';

/**
 * One multi-row INSERT ... ON CONFLICT DO NOTHING of batches with distinct ids; returns the ids
 * that were new. Events and updates keep the wire format (`a, s, p, r, t, q` and `g`) that
 * stores written by earlier versions hold.
 */
export async function insertBatches(tx: Queryable, batches: SignalBatch[]): Promise<Set<string>> {
  const rows = await tx.query<{ id: string }>(
    `insert into batches (id, model, shadow, events, n_events, update_vec)
     select * from unnest($1::text[], $2::text[], $3::text[], $4::jsonb[], $5::int[], $6::jsonb[])
     on conflict (id) do nothing returning id`,
    [
      batches.map((b) => b.id),
      batches.map((b) => b.model),
      batches.map((b) => b.shadow ?? null),
      batches.map((b) => JSON.stringify(b.events.map(eventToWire))),
      batches.map((b) => b.events.length),
      batches.map((b) => (b.update ? JSON.stringify(b.update.gradient) : null)),
    ],
  );
  return new Set(rows.map((r) => r.id));
}

export interface PendingUpdate {
  id: string;
  events: SignalEvent[];
  gradient: number[];
}

/** Updates not yet used by any round, sent for one of `models`, in batch-id order. */
export async function selectPendingUpdates(db: Queryable, models: string[]): Promise<PendingUpdate[]> {
  const rows = await db.query<{ id: string; update_vec: number[] | string; events: WireEvent[] | string }>(
    `select id, update_vec, events from batches
     where round_id is null and update_vec is not null and model = any($1::text[]) order by id`,
    [models],
  );
  return rows.map((r) => ({ id: r.id, events: fromJson(r.events).map(eventFromWire), gradient: fromJson(r.update_vec) }));
}

/** Marks batches as used by a round (their privacy cost is spent: no later round reuses them). */
export async function assignBatchesToRound(tx: Queryable, roundId: number, ids: string[]): Promise<void> {
  await tx.query(`update batches set round_id = $1 where round_id is null and id = any($2::text[])`, [roundId, ids]);
}

/** Every event logged under `current` by devices that also reported for `shadow`. */
export async function selectShadowEvents(db: Queryable, shadow: string, current: string): Promise<SignalEvent[]> {
  const rows = await db.query<{ events: WireEvent[] | string }>(`select events from batches where shadow = $1 and model = $2`, [
    shadow,
    current,
  ]);
  return rows.flatMap((r) => fromJson(r.events).map(eventFromWire));
}

export async function selectBatchTotals(db: Queryable): Promise<{ batches: number; events: number; updates: number }> {
  const [b] = await db.query<{ batches: string; events: string; updates: string }>(
    `select count(*) as batches, coalesce(sum(n_events), 0) as events, count(update_vec) as updates from batches`,
  );
  return { batches: Number(b.batches), events: Number(b.events), updates: Number(b.updates) };
}
