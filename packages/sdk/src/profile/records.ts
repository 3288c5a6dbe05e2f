/**
 * Owns checking profile records read back from storage. Anything can be in IndexedDB (another
 * script on the origin, a browser bug, a half-written record from an old SDK): every record is
 * validated on read, and what fails is healed or dropped, with a reason, never used as it is.
 */
import * as v from 'valibot';
import { OUTCOMES } from '@vitrine/core/domain';
import { applyEvent, emptyAggregates, RECENT_LIMIT, type ProfileAggregates, type ProfileEvent } from '@vitrine/core/features';

const MAX_KEY_LENGTH = 512;
const Count = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(Number.MAX_SAFE_INTEGER));
const CountsSchema = v.object({ views: Count, positives: Count, negatives: Count });
const Key = v.pipe(v.string(), v.maxLength(MAX_KEY_LENGTH));
const CountsRecord = v.record(Key, CountsSchema);

const AggregatesSchema = v.object({
  schema: v.literal(1),
  total: CountsSchema,
  byType: CountsRecord,
  byActivity: v.record(Key, v.object({ ...CountsSchema.entries, type: v.optional(Key) })),
  // Profiles written before attributes were counted have none.
  byAttribute: v.optional(CountsRecord, {}),
  recent: v.pipe(v.array(v.object({ type: Key, activityId: Key, positive: v.picklist([0, 1]) })), v.maxLength(RECENT_LIMIT * 10)),
});

const EventSchema = v.object({
  activityId: v.pipe(Key, v.minLength(1)),
  activityType: Key,
  outcome: v.picklist(OUTCOMES),
  hour: v.pipe(v.number(), v.finite()),
  attributes: v.optional(v.record(Key, Key)),
});

/** Copies a keyed record into an object without a prototype: no key (`constructor`, `__proto__`) can reach inherited members. */
function bare<T>(record: Record<string, T>): Record<string, T> {
  const out = Object.create(null) as Record<string, T>;
  for (const [k, value] of Object.entries(record)) out[k] = value;
  return out;
}

/** The stored aggregates as a valid record, or null when they are not one. */
export function parseAggregates(raw: unknown): ProfileAggregates | null {
  const parsed = v.safeParse(AggregatesSchema, raw);
  if (!parsed.success) return null;
  const a = parsed.output;
  return {
    schema: 1,
    total: a.total,
    byType: bare(a.byType),
    byActivity: bare(a.byActivity),
    byAttribute: bare(a.byAttribute),
    recent: a.recent.slice(-RECENT_LIMIT),
  };
}

/** A stored event as a valid event, or null. */
export function parseEvent(raw: unknown): ProfileEvent | null {
  const parsed = v.safeParse(EventSchema, raw);
  if (!parsed.success) return null;
  const { attributes, ...event } = parsed.output;
  return attributes ? { ...event, attributes: bare(attributes) } : event;
}

/** Aggregates rebuilt from the event log (oldest first): how a corrupt aggregate record is healed. */
export function rebuildAggregates(events: ProfileEvent[]): ProfileAggregates {
  return events.reduce(applyEvent, emptyAggregates());
}
