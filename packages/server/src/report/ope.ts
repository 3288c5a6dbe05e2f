/**
 * Owns the report's off-policy estimates (pure), with @vitrine/core/ope: the current model's value
 * on its own logs (target = the logged propensity p: weights 1, so IPW = SNIPW = the mean reward
 * per impression of the policy as deployed, holdout included, as the promotion check counts it)
 * and the shadow model's from the same logs (target = its propensity q). Released only when the
 * events come from at least k batches.
 */
import { offPolicyEstimates } from '@vitrine/core/ope';
import type { SignalEvent } from '@vitrine/core/protocol';

export interface OpeSummary {
  version: string;
  events: number;
  batches: number;
  ipw: number;
  snipw: number;
  /** SNIPW's 95% interval (normal, or a percentile bootstrap when the weights are degenerate; within [0, 1]). */
  low: number;
  high: number;
  ipwLow: number;
  ipwHigh: number;
  interval: 'normal' | 'bootstrap';
  /** Effective sample size of the importance weights. */
  ess: number;
  warnings: string[];
}

export function opeSummary(
  version: string,
  batches: readonly (readonly SignalEvent[])[],
  target: (e: SignalEvent) => number,
  k: number,
): OpeSummary | null {
  const rows = batches.filter((b) => b.length > 0);
  const events = rows.flat();
  if (rows.length < Math.max(1, k) || !events.length) return null;
  const result = offPolicyEstimates(
    events.map((e) => ({
      action: e.activityId,
      position: e.slot,
      reward: e.reward,
      propensity: e.propensity,
      targetPropensity: target(e),
    })),
    undefined,
    { describeRow: (i) => `the event of ${events[i].activityId} at slot ${events[i].slot} (p ${events[i].propensity})` },
  );
  return {
    version,
    events: events.length,
    batches: rows.length,
    ipw: result.ipw.value,
    snipw: result.snipw.value,
    low: result.snipw.ci[0],
    high: result.snipw.ci[1],
    ipwLow: result.ipw.ci[0],
    ipwHigh: result.ipw.ci[1],
    interval: result.snipw.interval,
    ess: result.effectiveSampleSize,
    warnings: result.diagnostics.warnings,
  };
}
