/**
 * Owns the pacing controller (pure): from today's count of an activity's impressions (or
 * redemptions) in the stored signals, the multiplier devices apply to it (a page view may show the
 * activity with probability = multiplier), so that a day's deliveries meet the budget evenly.
 *
 * Each step estimates the demand (deliveries per ms the activity would get at multiplier 1) as
 * deliveries over exposure (time × the multiplier then in force), both summed over recent
 * intervals with a decay that keeps about DEMAND_MEMORY deliveries (half-life between 10 minutes
 * and 3 hours): a busy activity follows a spike within minutes, a rare redemption is averaged over
 * hours, and an interval at a tiny multiplier weighs as little as its exposure. Then
 *   m = clip((remaining budget / remaining day) / demand, FLOOR, 1)
 * (the rate that spreads what is left of the budget over what is left of the day). The feedback is
 * on today's cumulative count, so errors of one step (noise, devices still holding an older
 * multiplier, signals in flight) are corrected by the next. A spent budget gives 0 until the next
 * UTC day, which opens at the multiplier the last demand estimate asks for.
 *
 * k-threshold: a step uses today's counts only once the activity was seen in at least k batches
 * today; below that the multiplier stays what it was (the opening one, at the start of a day),
 * and the interval keeps running, so the next step measures over all of it. Every published
 * multiplier is therefore a function of counts backed by at least k batches.
 */

export const DAY_MS = 86_400_000;
/** Lowest multiplier while budget is left: keeps the activity shown a little, so demand stays measurable. */
export const PACING_FLOOR = 0.01;
/** Deliveries the demand estimate keeps in memory (see the decay in `pacingStep`). */
export const DEMAND_MEMORY = 50;
const MINUTE_MS = 60_000;

export interface PacingBudget {
  activity: string;
  metric: 'impressions' | 'redemptions';
  perDay: number;
}

export interface PacingState {
  multiplier: number;
  /** The UTC day (epoch ms of midnight) the counts below are of. */
  day: number;
  /** Today's count and the time of the last step that used counts (the interval's start). */
  lastCount: number;
  lastAt: number;
  /** Decayed sums of deliveries and of exposure (ms × multiplier): their ratio is the demand per ms at multiplier 1. */
  delivered: number;
  exposure: number;
  /** Time of the last step, used or not. */
  steppedAt: number;
}

/** Today's aggregate: the metric's count, and how many batches held the activity. */
export interface PacingCounts {
  count: number;
  batches: number;
}

export const utcDay = (at: number): number => Math.floor(at / DAY_MS) * DAY_MS;

/** The next state from the previous one (null: the budget is new) and today's counts at `now`. */
export function pacingStep(
  prev: PacingState | null,
  budget: Pick<PacingBudget, 'perDay'>,
  counts: PacingCounts,
  now: number,
  k: number,
): PacingState {
  const today = utcDay(now);
  let s: PacingState = prev ?? { multiplier: 1, day: today, lastCount: 0, lastAt: today, delivered: 0, exposure: 0, steppedAt: now };
  if (s.day !== today) {
    s = { ...s, day: today, lastCount: 0, lastAt: today, multiplier: openingMultiplier(budget.perDay, demandOf(s)) };
  }
  if (counts.batches < Math.max(1, k)) return { ...s, steppedAt: now };
  const interval = Math.max(0, now - s.lastAt);
  const fresh = Math.max(0, counts.count - s.lastCount);
  // Keep about DEMAND_MEMORY deliveries: decay faster when this interval brought many.
  const fast = 0.5 ** (interval / (10 * MINUTE_MS));
  const slow = 0.5 ** (interval / (180 * MINUTE_MS));
  const keep = s.delivered > 0 ? clip((DEMAND_MEMORY - fresh) / s.delivered, fast, slow) : slow;
  const delivered = keep * s.delivered + fresh;
  const exposure = keep * s.exposure + interval * s.multiplier;
  const demand = demandOf({ delivered, exposure });
  const remaining = budget.perDay - counts.count;
  const left = today + DAY_MS - now;
  let multiplier: number;
  if (remaining <= 0) multiplier = 0;
  else if (demand === null || demand <= 0) multiplier = 1;
  else multiplier = clip(remaining / Math.max(left, 1) / demand, PACING_FLOOR, 1);
  return { multiplier, day: today, lastCount: counts.count, lastAt: now, delivered, exposure, steppedAt: now };
}

/** Deliveries per ms at multiplier 1, or null before any exposure. */
export function demandOf(s: Pick<PacingState, 'delivered' | 'exposure'>): number | null {
  return s.exposure > 0 ? s.delivered / s.exposure : null;
}

/** A new day's multiplier: the even rate of the budget over the last demand estimate (1 without one). */
export function openingMultiplier(perDay: number, demand: number | null): number {
  return demand === null || demand <= 0 ? 1 : clip(perDay / DAY_MS / demand, PACING_FLOOR, 1);
}

const clip = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));
