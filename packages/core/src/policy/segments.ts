import type { FeatureRecord } from '../domain/activity';
import { own, type Counts, type ProfileAggregates, type ProfileEvent } from '../features/profile-aggregates';
import type { Condition, Segment } from './document';

const DAY_MS = 86_400_000;

/** What segment membership is computed from: all of it stays on the device. */
export interface SegmentInputs {
  profile: ProfileAggregates;
  /** The hour (epoch ms, floored) of the newest tracked event, or null without history. */
  lastEventHour: number | null;
  user: FeatureRecord;
  now: number;
}

/** The newest event's hour of an event log (null when it is empty). */
export function lastEventHour(events: readonly Pick<ProfileEvent, 'hour'>[]): number | null {
  let last: number | null = null;
  for (const e of events) if (last === null || e.hour > last) last = e.hour;
  return last;
}

/** The ids of the segments the shopper is in, in the order they are defined. */
export function segmentMemberships(segments: readonly Segment[], inputs: SegmentInputs): string[] {
  return segments.filter((s) => holds(s.when, inputs)).map((s) => s.id);
}

/**
 * The one segment a device reports (randomized) with an update: the first it is in, in the
 * merchant's order, or `segments.length` for none of them.
 */
export function primarySegmentIndex(segments: readonly Segment[], inputs: SegmentInputs): number {
  const i = segments.findIndex((s) => holds(s.when, inputs));
  return i < 0 ? segments.length : i;
}

const answers = (c: Counts | undefined) => (c ? c.positives + c.negatives : 0);

function holds(c: Condition, x: SegmentInputs): boolean {
  if ('all' in c) return c.all.every((d) => holds(d, x));
  if ('any' in c) return c.any.some((d) => holds(d, x));
  if ('not' in c) return !holds(c.not, x);
  if ('inactiveDays' in c) return x.lastEventHour !== null && x.now - x.lastEventHour >= c.inactiveDays * DAY_MS;
  if ('attribute' in c) {
    const value = own(x.user, c.attribute.key);
    if (value === undefined || value === null) return false;
    const { in: values, min, max } = c.attribute;
    if (values && !values.includes(value)) return false;
    if (min !== undefined || max !== undefined) {
      if (typeof value !== 'number') return false;
      if (min !== undefined && value < min) return false;
      if (max !== undefined && value > max) return false;
    }
    return true;
  }
  const h = c.history;
  const counts =
    h.type !== undefined
      ? own(x.profile.byType, h.type)
      : h.attribute !== undefined
        ? own(x.profile.byAttribute, h.attribute)
        : x.profile.total;
  // Both a type and an attribute: the attribute's counts among that type are not kept, so both must qualify.
  const both = h.type !== undefined && h.attribute !== undefined ? [counts, own(x.profile.byAttribute, h.attribute)] : [counts];
  return both.every((k) => {
    const n = answers(k);
    if (h.minAnswers !== undefined && n < h.minAnswers) return false;
    if (h.maxAnswers !== undefined && n > h.maxAnswers) return false;
    if (h.minAcceptance !== undefined && (n === 0 || (k?.positives ?? 0) / n < h.minAcceptance)) return false;
    return true;
  });
}
