/** Owns the shadow-promotion decision: paired one-sided OPE on logged events; status changes go through registry/. */
import { offPolicyEstimates } from '@vitrine/core/ope';
import type { Db } from '../store/db';
import { selectShadowEvents } from '../store/batches';
import { insertPromotion } from '../store/promotions';
import type { ModelRegistry } from '../registry/registry';

export interface PromotionConfig {
  /** Fewest off-policy events a decision needs. */
  minEvents: number;
  /** How much worse than the current model the shadow may be and still count as "not worse". */
  margin: number;
  /** Fewest distinct networks the evidence must come from (each network is one unit of it). */
  minNetworks?: number;
}

/** Importance weights q/p above this are cut: one forged p ≈ 0 cannot carry the estimate. */
export const MAX_IMPORTANCE_WEIGHT = 20;

export interface PromotionReport {
  shadow: string;
  current: string;
  decision: 'promoted' | 'kept-shadow' | 'rejected';
  events: number;
  /** Networks the evidence comes from: the units of the test. */
  networks: number;
  currentValue?: number;
  shadowValue?: number;
  shadowCi?: [number, number];
  /** One-sided 95% lower bound of (shadow - current), paired over the same logged events. */
  differenceLower?: number;
  effectiveSampleSize?: number;
  reason: string;
}

const Z_ONE_SIDED_95 = 1.6448536269514722;

/**
 * Shadow promotion: devices ranked with the current model and reported, for each logged event,
 * the shadow policy's propensity q next to the logging propensity p. On those same events the
 * current policy's value is the mean reward and the shadow's is the IPW mean of (q/p) r; the
 * shadow is promoted when the one-sided 95% lower bound of the paired difference is above
 * -margin (not worse, at 95% confidence), and rejected when the upper bound is below -margin.
 * The units of the test are networks, not events: each network's events are averaged into one
 * difference (importance weights cut at MAX_IMPORTANCE_WEIGHT), so one client sending many
 * forged batches from one address is one unit, as much as one honest shopper.
 */
export async function checkPromotion(db: Db, registry: ModelRegistry, promotion: PromotionConfig): Promise<PromotionReport | undefined> {
  const shadow = registry.getShadow();
  const current = registry.getCurrent();
  if (!shadow || !current) return undefined;
  const events = (await selectShadowEvents(db, shadow.version, current.version))
    .filter((e) => e.shadowPropensity !== undefined)
    .map((e) => ({ ...e, shadowPropensity: e.shadowPropensity! }));
  const byNetwork = new Map<string, number[]>();
  for (const e of events) {
    const w = Math.min(e.shadowPropensity / e.propensity, MAX_IMPORTANCE_WEIGHT);
    byNetwork.set(e.network, [...(byNetwork.get(e.network) ?? []), w * e.reward - e.reward]);
  }
  // One network is allowed for the QA loop and the browser test only (one tester, one address); the default is 20.
  const minNetworks = Math.max(1, promotion.minNetworks ?? 20);
  const base = { shadow: shadow.version, current: current.version, events: events.length, networks: byNetwork.size };
  if (events.length < Math.max(2, promotion.minEvents) || byNetwork.size < minNetworks) {
    const reason =
      `${events.length} off-policy events from ${byNetwork.size} networks so far; ` +
      `promotion needs ${promotion.minEvents} from ${minNetworks}`;
    return { ...base, decision: 'kept-shadow', reason };
  }
  const ope = offPolicyEstimates(
    events.map((e) => ({
      action: e.activityId,
      position: e.slot,
      reward: e.reward,
      propensity: e.propensity,
      targetPropensity: e.shadowPropensity,
    })),
  );
  const diffs = [...byNetwork.values()].map((d) => d.reduce((a, b) => a + b, 0) / d.length);
  const mean = diffs.reduce((a, b) => a + b, 0) / diffs.length;
  const sd = Math.sqrt(diffs.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, diffs.length - 1));
  const se = sd / Math.sqrt(diffs.length);
  const lower = mean - Z_ONE_SIDED_95 * se;
  const upper = mean + Z_ONE_SIDED_95 * se;
  const currentValue = events.reduce((a, e) => a + e.reward, 0) / events.length;
  const decision: PromotionReport['decision'] =
    lower >= -promotion.margin ? 'promoted' : upper < -promotion.margin ? 'rejected' : 'kept-shadow';
  const report: PromotionReport = {
    ...base,
    decision,
    currentValue,
    shadowValue: ope.ipw.value,
    shadowCi: ope.ipw.ci,
    differenceLower: lower,
    effectiveSampleSize: ope.effectiveSampleSize,
    reason:
      decision === 'promoted'
        ? `shadow - current >= ${lower.toFixed(4)} at 95% (margin ${promotion.margin})`
        : decision === 'rejected'
          ? `shadow worse: difference <= ${upper.toFixed(4)} at 95%`
          : `not yet conclusive: lower bound ${lower.toFixed(4)} < -${promotion.margin}`,
  };
  if (decision !== 'kept-shadow') {
    await db.transaction(async (tx) => {
      if (decision === 'promoted') await registry.promote(shadow, tx);
      else await registry.reject(shadow, tx);
      await insertPromotion(tx, report);
    });
    await registry.refresh();
  }
  return report;
}
