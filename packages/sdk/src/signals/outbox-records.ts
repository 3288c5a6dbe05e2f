/**
 * Owns checking what the signal outbox reads back from IndexedDB: queued batches and the
 * privacy ledger. A record that fails is never used as it is: a batch is dropped (counted in
 * the ledger, with the reason), an open batch's bad events are dropped, and a corrupt ledger
 * is replaced by one that refuses updates for a whole window, since an empty one would let the
 * device spend its budget again.
 */
import * as v from 'valibot';
import { parseWireBatch } from '@vitrine/core/protocol';
import { emptyLedger, upgradeStoredItem, type Ledger, type OpenEvent, type OutboxItem, type StoredOutboxItem } from './outbox';

const Finite = v.pipe(v.number(), v.finite());
const Time = v.pipe(v.number(), v.finite(), v.minValue(0));

const StoredItemShape = v.looseObject({
  id: v.pipe(v.string(), v.regex(/^[0-9a-f]{32}$/)),
  state: v.picklist(['open', 'sealed']),
  model: v.pipe(v.string(), v.maxLength(128)),
  shadow: v.optional(v.pipe(v.string(), v.maxLength(128))),
  events: v.pipe(v.array(v.looseObject({ key: v.string() })), v.maxLength(1024)),
  withUpdate: v.boolean(),
  owner: v.optional(v.string()),
  touchedAt: v.optional(Time),
  attempts: v.pipe(v.number(), v.integer(), v.minValue(0)),
  nextAt: Time,
  createdAt: Time,
  segment: v.optional(
    v.strictObject({
      policy: v.pipe(v.string(), v.regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/)),
      index: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(64)),
    }),
  ),
});

const OpenEventSchema = v.object({
  key: v.pipe(v.string(), v.minLength(1), v.maxLength(512)),
  activityId: v.pipe(v.string(), v.minLength(1), v.maxLength(128)),
  slot: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(255)),
  propensity: v.pipe(Finite, v.gtValue(0), v.maxValue(1)),
  reward: v.pipe(Finite, v.minValue(0), v.maxValue(1)),
  timeBucket: v.pipe(v.number(), v.integer(), v.minValue(0)),
  shadowPropensity: v.optional(v.pipe(Finite, v.minValue(0), v.maxValue(1))),
  control: v.optional(v.literal(true)),
  example: v.optional(
    v.pipe(
      v.object({ index: v.array(v.pipe(v.number(), v.integer(), v.minValue(0))), value: v.array(Finite), logit: Finite }),
      v.check((e) => e.index.length === e.value.length, 'index and value differ in length'),
    ),
  ),
});

const LedgerSchema = v.object({
  contributions: v.array(v.object({ at: Time, rho: v.pipe(Finite, v.minValue(0)) })),
  sent: v.object({
    batches: v.pipe(v.number(), v.integer(), v.minValue(0)),
    events: v.pipe(v.number(), v.integer(), v.minValue(0)),
    updates: v.pipe(v.number(), v.integer(), v.minValue(0)),
    lastAt: v.nullable(Time),
  }),
  dropped: v.object({ batches: v.pipe(v.number(), v.integer(), v.minValue(0)), lastReason: v.nullable(v.string()) }),
  blockedSince: v.optional(Time),
  blockedReason: v.optional(v.string()),
});

/** A stored batch checked and in the current shape; `dropped` counts the events of an open batch that were invalid. */
export type ParsedItem = { item: OutboxItem; droppedEvents: number } | { item: null; reason: string };

export function parseStoredItem(raw: unknown): ParsedItem {
  const shape = v.safeParse(StoredItemShape, raw);
  if (!shape.success) return { item: null, reason: `corrupt outbox record (${v.getDotPath(shape.issues[0]) ?? 'record'})` };
  let item: OutboxItem;
  try {
    item = upgradeStoredItem(shape.output as unknown as StoredOutboxItem);
  } catch {
    return { item: null, reason: 'corrupt outbox record (events)' };
  }
  if (item.state === 'sealed') {
    try {
      item.body = parseWireBatch(item.body);
    } catch (err) {
      return { item: null, reason: `corrupt sealed batch (${(err as Error).message})` };
    }
    if (item.body.id !== item.id) return { item: null, reason: 'corrupt sealed batch (id differs from its body)' };
    return { item: { ...item, events: [] }, droppedEvents: 0 };
  }
  const events: OpenEvent[] = [];
  for (const e of item.events) {
    const parsed = v.safeParse(OpenEventSchema, e);
    if (parsed.success) events.push(parsed.output);
  }
  return { item: { ...item, events }, droppedEvents: item.events.length - events.length };
}

/**
 * The stored ledger, checked. Undefined (none yet) is an empty ledger; a corrupt one is
 * replaced by an empty ledger blocked from `now`: no update for a whole window (the accountant
 * refuses while blocked), so a broken record never gives the device its budget back.
 */
export function parseLedger(raw: unknown, now: number): { ledger: Ledger; repaired?: string } {
  if (raw === undefined) return { ledger: emptyLedger() };
  const parsed = v.safeParse(LedgerSchema, raw);
  if (parsed.success) return { ledger: parsed.output };
  const reason = 'the privacy ledger was corrupt: no model update is sent for a whole budget window';
  return { ledger: { ...emptyLedger(), blockedSince: now, blockedReason: reason }, repaired: reason };
}
