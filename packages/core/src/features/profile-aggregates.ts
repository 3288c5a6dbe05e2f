import { isPositive, type Outcome } from '../domain/outcomes';

/**
 * The running aggregates the feature builder needs. Pure data and pure functions: the
 * browser profile store and the training pipeline both fold events through `applyEvent`,
 * so a feature computed offline equals the one computed on the device.
 */
export interface Counts {
  views: number;
  positives: number;
  negatives: number;
}

export interface ProfileAggregates {
  schema: 1;
  total: Counts;
  byType: Record<string, Counts>;
  byActivity: Record<string, Counts & { type?: string }>;
  /** Answers per activity attribute value, keyed `name=value` (e.g. `expiration=2h`). */
  byAttribute: Record<string, Counts>;
  /** Most recent answered outcomes, newest last: 1 positive, 0 negative. */
  recent: { type: string; activityId: string; positive: 0 | 1 }[];
}

export interface ProfileEvent {
  activityId: string;
  activityType: string;
  outcome: Outcome;
  /** Coarse time: epoch milliseconds floored to the hour. */
  hour: number;
  /** The activity's categorical attributes (`features` with string values), not the shopper's. */
  attributes?: Record<string, string>;
}

export const ATTRIBUTE_MAX_LENGTH = 64;

/** Categorical attributes of an activity, as recorded with its events. */
export function activityAttributes(features: Record<string, unknown> | undefined): Record<string, string> | undefined {
  if (!features) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(features)) if (typeof v === 'string' && v.length <= ATTRIBUTE_MAX_LENGTH) out[k] = v;
  return Object.keys(out).length ? out : undefined;
}

export const RECENT_LIMIT = 20;

/**
 * A keyed record's own entry: activity ids, types and attribute values come from the page, and
 * `constructor` or `__proto__` must not read (or write) what every object inherits.
 */
export function own<T>(record: Readonly<Record<string, T>> | undefined, key: string): T | undefined {
  return record && Object.prototype.hasOwnProperty.call(record, key) ? record[key] : undefined;
}

export function emptyAggregates(): ProfileAggregates {
  return { schema: 1, total: zero(), byType: {}, byActivity: {}, byAttribute: {}, recent: [] };
}

function zero(): Counts {
  return { views: 0, positives: 0, negatives: 0 };
}

/** Returns a new aggregate with `event` folded in (inputs are not mutated). */
export function applyEvent(agg: ProfileAggregates, event: ProfileEvent): ProfileAggregates {
  const bump = (c: Counts | undefined): Counts => {
    const next = c ? { ...c } : zero();
    if (event.outcome === 'view') next.views += 1;
    else if (isPositive(event.outcome)) next.positives += 1;
    else next.negatives += 1;
    return next;
  };
  const recent =
    event.outcome === 'view'
      ? agg.recent
      : [
          ...agg.recent,
          { type: event.activityType, activityId: event.activityId, positive: (isPositive(event.outcome) ? 1 : 0) as 0 | 1 },
        ].slice(-RECENT_LIMIT);
  // Computed keys below define own properties (even `__proto__`); `own` reads only those.
  const byAttribute = { ...(agg.byAttribute ?? {}) };
  for (const [k, v] of Object.entries(event.attributes ?? {})) byAttribute[`${k}=${v}`] = bump(own(byAttribute, `${k}=${v}`));
  return {
    schema: 1,
    total: bump(agg.total),
    byType: { ...agg.byType, [event.activityType]: bump(own(agg.byType, event.activityType)) },
    byActivity: {
      ...agg.byActivity,
      [event.activityId]: { ...bump(own(agg.byActivity, event.activityId)), type: event.activityType },
    },
    byAttribute,
    recent,
  };
}

export const HOUR_MS = 3_600_000;
export function coarseHour(epochMs: number): number {
  return Math.floor(epochMs / HOUR_MS) * HOUR_MS;
}
