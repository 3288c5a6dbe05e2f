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
const ActivityCounts = v.object({ ...CountsSchema.entries, type: v.optional(Key) });

/**
 * A keyed record checked entry by entry, every own key kept. (valibot's `record` skips the keys
 * `constructor`, `prototype` and `__proto__`, and an activity may really be called that: its
 * counts would be dropped on every read.) The output has no prototype.
 */
function keyedRecord<T>(schema: v.GenericSchema<unknown, T>) {
  return v.pipe(
    v.custom<Record<string, unknown>>((raw) => typeof raw === 'object' && raw !== null && !Array.isArray(raw), 'must be an object'),
    v.check((raw) => Object.keys(raw).every((k) => k.length <= MAX_KEY_LENGTH && v.is(schema, raw[k])), 'has an entry that is not valid'),
    v.transform((raw) => bare(raw as Record<string, T>)),
  );
}

const AggregatesSchema = v.object({
  schema: v.literal(1),
  total: CountsSchema,
  byType: keyedRecord(CountsSchema),
  byActivity: keyedRecord(ActivityCounts),
  // Profiles written before attributes were counted have none.
  byAttribute: v.optional(keyedRecord(CountsSchema), {}),
  recent: v.pipe(v.array(v.object({ type: Key, activityId: Key, positive: v.picklist([0, 1]) })), v.maxLength(RECENT_LIMIT * 10)),
});

const EventSchema = v.object({
  activityId: v.pipe(Key, v.minLength(1)),
  activityType: Key,
  outcome: v.picklist(OUTCOMES),
  hour: v.pipe(v.number(), v.finite()),
  attributes: v.optional(keyedRecord(Key)),
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
    byType: a.byType,
    byActivity: a.byActivity,
    byAttribute: a.byAttribute,
    recent: a.recent.slice(-RECENT_LIMIT),
  };
}

/** A stored event as a valid event, or null. */
export function parseEvent(raw: unknown): ProfileEvent | null {
  const parsed = v.safeParse(EventSchema, raw);
  if (!parsed.success) return null;
  const { attributes, ...event } = parsed.output;
  return attributes ? { ...event, attributes } : event;
}

/** Aggregates rebuilt from the event log (oldest first): how a corrupt aggregate record is healed. */
export function rebuildAggregates(events: ProfileEvent[]): ProfileAggregates {
  return events.reduce(applyEvent, emptyAggregates());
}
