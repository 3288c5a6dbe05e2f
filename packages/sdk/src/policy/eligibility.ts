import type { Activity } from '../types';

export function toTime(value: string | number | Date | undefined): number | undefined {
  if (value === undefined) return undefined;
  const t = value instanceof Date ? value.getTime() : typeof value === 'number' ? value : Date.parse(value);
  return Number.isFinite(t) ? t : NaN;
}

/** An activity is eligible from `startsAt` (inclusive) until `endsAt` (exclusive). */
export function isEligible(activity: Activity, at: number): boolean {
  const start = toTime(activity.startsAt);
  const end = toTime(activity.endsAt);
  return (start === undefined || at >= start) && (end === undefined || at < end);
}
