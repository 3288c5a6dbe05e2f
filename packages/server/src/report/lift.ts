/**
 * Owns the A/B holdout's comparison (pure): Vitrine's page views (events without `c`) against the
 * control arm's (`c: 1`), overall and per day, from the events of stored batches.
 *
 * Definitions: an impression is an event (a placement the shopper was shown and the SDK
 * tracked), a click an event with reward > 0, the reward rate the mean reward per impression.
 * Intervals are ratio-of-sums intervals with batches as clusters (intervals.ts), the lift's the
 * delta method on the log ratio with the same clusters: closed form, so the report costs one pass
 * over the events, and its coverage is checked by simulation (lift-coverage.test.ts). An arm seen
 * in fewer than k batches is suppressed: its numbers are not released, and no lift uses it.
 */
import type { SignalEvent } from '@vitrine/core/protocol';
import { relativeLift, ratioOfSums, type Interval } from './intervals';

export interface ArmSummary {
  /** Fewer than k batches: every number below is null. */
  suppressed: boolean;
  batches: number | null;
  impressions: number | null;
  clicks: number | null;
  ctr: number | null;
  ctrLow: number | null;
  ctrHigh: number | null;
  rewardRate: number | null;
  rewardLow: number | null;
  rewardHigh: number | null;
}

export interface LiftPoint {
  /** The UTC day (epoch ms of its midnight), from the events' 6-hour time buckets. */
  day: number;
  vitrine: ArmSummary;
  control: ArmSummary;
  ctrLift: Interval | null;
}

export interface LiftReport {
  vitrine: ArmSummary;
  control: ArmSummary;
  /** CTR_vitrine / CTR_control − 1 with its 95% interval; null when an arm is suppressed or has no click. */
  ctrLift: Interval | null;
  rewardLift: Interval | null;
  overTime: LiftPoint[];
}

/** Per cluster (batch) and arm: impressions, clicks, reward; index 0 Vitrine, 1 control. */
interface ArmClusters {
  impressions: [number[], number[]];
  clicks: [number[], number[]];
  reward: [number[], number[]];
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const SUPPRESSED: ArmSummary = {
  suppressed: true,
  batches: null,
  impressions: null,
  clicks: null,
  ctr: null,
  ctrLow: null,
  ctrHigh: null,
  rewardRate: null,
  rewardLow: null,
  rewardHigh: null,
};

/** The holdout comparison over `batches` (each: the events of one stored batch), released above `k` batches per arm. */
export function liftReport(batches: readonly (readonly SignalEvent[])[], k: number): LiftReport {
  const overall = clustersOf(batches);
  const byDay = new Map<number, SignalEvent[][]>();
  for (const events of batches) {
    const perDay = new Map<number, SignalEvent[]>();
    for (const e of events) {
      const day = Math.floor((e.timeBucket * HOUR_MS) / DAY_MS) * DAY_MS;
      const list = perDay.get(day);
      if (list) list.push(e);
      else perDay.set(day, [e]);
    }
    for (const [day, list] of perDay) {
      const days = byDay.get(day);
      if (days) days.push(list);
      else byDay.set(day, [list]);
    }
  }
  const compare = (c: ArmClusters) => {
    const vitrine = summarize(c, 0, k);
    const control = summarize(c, 1, k);
    const both = !vitrine.suppressed && !control.suppressed;
    return {
      vitrine,
      control,
      ctrLift: both ? relativeLift({ y: c.clicks[0], x: c.impressions[0] }, { y: c.clicks[1], x: c.impressions[1] }) : null,
      rewardLift: both ? relativeLift({ y: c.reward[0], x: c.impressions[0] }, { y: c.reward[1], x: c.impressions[1] }) : null,
    };
  };
  const overTime = [...byDay.keys()]
    .sort((a, b) => a - b)
    .map((day) => {
      const { vitrine, control, ctrLift } = compare(clustersOf(byDay.get(day)!));
      return { day, vitrine, control, ctrLift };
    });
  return { ...compare(overall), overTime };
}

function clustersOf(batches: readonly (readonly SignalEvent[])[]): ArmClusters {
  const c: ArmClusters = { impressions: [[], []], clicks: [[], []], reward: [[], []] };
  for (const events of batches) {
    const impressions = [0, 0];
    const clicks = [0, 0];
    const reward = [0, 0];
    for (const e of events) {
      const arm = e.control ? 1 : 0;
      impressions[arm] += 1;
      if (e.reward > 0) clicks[arm] += 1;
      reward[arm] += e.reward;
    }
    for (const arm of [0, 1]) {
      c.impressions[arm].push(impressions[arm]);
      c.clicks[arm].push(clicks[arm]);
      c.reward[arm].push(reward[arm]);
    }
  }
  return c;
}

function summarize(c: ArmClusters, arm: 0 | 1, k: number): ArmSummary {
  const x = c.impressions[arm];
  const batches = x.filter((n) => n > 0).length;
  if (batches < Math.max(1, k)) return SUPPRESSED;
  const impressions = x.reduce((a, b) => a + b, 0);
  const clicks = c.clicks[arm].reduce((a, b) => a + b, 0);
  // Only the arm's own batches: a batch without this arm's events adds (0, 0), which changes nothing but n/(n − 1).
  const own = x.map((n, b) => (n > 0 ? b : -1)).filter((b) => b >= 0);
  const pick = (v: number[]) => own.map((b) => v[b]);
  const ctr = ratioOfSums(pick(c.clicks[arm]), pick(x));
  const reward = ratioOfSums(pick(c.reward[arm]), pick(x));
  return {
    suppressed: false,
    batches,
    impressions,
    clicks,
    ctr: clicks / impressions,
    ctrLow: ctr?.low ?? null,
    ctrHigh: ctr?.high ?? null,
    rewardRate: c.reward[arm].reduce((a, b) => a + b, 0) / impressions,
    rewardLow: reward?.low ?? null,
    rewardHigh: reward?.high ?? null,
  };
}
