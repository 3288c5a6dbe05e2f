import { offPolicyEstimates } from '@vitrine/core/ope';
import { TRAINABLE_TENSORS, updateDimension } from '@vitrine/core/privacy';
import type { WireEvent as SignalEvent } from '@vitrine/core/protocol';
import { mechanism, type PrivacyConfig } from '../config';
import type { Db } from '../db/db';
import { buildCandidate, insertModel, masterWeights, toMlp, type ModelRegistry } from '../models/registry';
import { clipL2, gaussian, trimCount, trimmedMean } from './robust';

export interface RoundReport {
  round: number | null;
  status: 'waiting' | 'published-shadow' | 'skipped-noisy';
  model: string;
  cohort: number;
  /** Updates the server's norm bound had to shrink (a well-behaved device's never are). */
  clippedByServer: number;
  trimmedEachSide: number;
  sensitivity: number;
  /** Distinct UTC days the round's updates come from: the most updates one device can have in it. */
  days: number;
  noiseStd: number;
  updateNorm: number;
  /** Expected norm of all the noise (central + the devices' local noise) in the mean. */
  noiseNorm: number;
  /** Estimated norm of what is not noise: sqrt(max(0, |update|^2 - noiseNorm^2)). */
  signalNorm: number;
  candidate?: string;
  /** Per-activity statistics of this round's events, released only above the k-threshold. */
  activities: { id: string; batches: number; impressions: number; rewardRate: number }[];
  suppressedActivities: number;
  promotion?: PromotionReport;
  note?: string;
}

export interface PromotionReport {
  shadow: string;
  current: string;
  decision: 'promoted' | 'kept-shadow' | 'rejected';
  events: number;
  currentValue?: number;
  shadowValue?: number;
  shadowCi?: [number, number];
  /** One-sided 95% lower bound of (shadow - current), paired over the same logged events. */
  differenceLower?: number;
  effectiveSampleSize?: number;
  reason: string;
}

interface PendingRow { id: string; update_vec: number[] | string; events: SignalEvent[] | string }
const json = <T>(v: T | string): T => (typeof v === 'string' ? JSON.parse(v) : v);

/**
 * One aggregation round: DP federated averaging of the pending clipped updates for the
 * current model (server norm bound, coordinate-wise trimmed mean, Gaussian noise calibrated to
 * the trimmed mean's sensitivity), then a candidate version published as the shadow model.
 * Also checks whether the existing shadow has earned promotion.
 */
export async function runRound(db: Db, registry: ModelRegistry, privacy: PrivacyConfig, promotion: { minEvents: number; margin: number }, random?: () => number): Promise<RoundReport> {
  await registry.refresh();
  const current = registry.getCurrent();
  if (!current) throw new Error('no current model');
  const promo = await checkPromotion(db, registry, promotion);
  if (promo?.decision === 'promoted') await registry.refresh();
  const model = registry.getCurrent()!;
  const mech = mechanism(privacy);
  // Updates are gradients at the model the devices ran. When this round just promoted the
  // shadow, the updates sent for its parent are one version stale; they are applied to the new
  // current model (as asynchronous federated averaging does) instead of being thrown away.
  const versions = [model.version, ...(promo?.decision === 'promoted' ? [promo.current] : [])];
  const rows = await db.query<PendingRow>(`select id, update_vec, events from batches where round_id is null and update_vec is not null and model = any($1::text[]) order by id`, [versions]);
  const dim = updateDimension(model.manifest);
  const usable = rows.map((r) => ({ events: json<SignalEvent[]>(r.events), update: json<number[]>(r.update_vec) })).filter((r) => r.update.length === dim);
  const updates = usable.map((r) => r.update);
  // A device opens at most one update batch per minHoursBetween (24 h) and its events follow
  // the opening, so one device's updates fall on distinct UTC days (by their first event). A
  // round spanning D days may hold up to D updates of one device: the noise is scaled by D,
  // which keeps the per-contribution cost the device charged an upper bound.
  const days = new Set(usable.map((r) => Math.floor(Math.min(...r.events.map((e) => e.t)) / 24))).size;
  const base = { model: model.version, cohort: updates.length, clippedByServer: 0, trimmedEachSide: 0, sensitivity: 0, days: 0, noiseStd: 0, updateNorm: 0, noiseNorm: 0, signalNorm: 0, activities: [], suppressedActivities: 0, ...(promo ? { promotion: promo } : {}) };
  if (updates.length < privacy.minCohort || updates.length < 1) {
    return { ...base, round: null, status: 'waiting', note: `${updates.length} updates pending for ${versions.join(', ')}; a round needs ${privacy.minCohort}` };
  }
  // 1. Norm bound: the device clipped to C and added N(0, s^2) per coordinate; an honest
  //    update's norm stays below C + s (sqrt(d) + 4) with overwhelming probability.
  const bound = privacy.clipNorm + mech.localNoiseStd * (Math.sqrt(dim) + 4);
  let clippedByServer = 0;
  const bounded = updates.map((u) => {
    const c = clipL2(u, bound);
    if (c.wasClipped) clippedByServer += 1;
    return c.clipped;
  });
  // 2. Robust mean.
  const k = trimCount(bounded.length, privacy.trim);
  const mean = trimmedMean(bounded, k);
  // 3. Central Gaussian noise. Replacing one device's clipped update (norm <= C) moves its
  //    input by <= 2C (local noise coupled, projection 1-Lipschitz), the trimmed mean by <= 2C/(n-2k).
  const sensitivity = (2 * privacy.clipNorm * Math.max(1, days)) / (bounded.length - 2 * k);
  const noiseStd = privacy.noise === 'none' ? 0 : mech.noiseMultiplier * sensitivity;
  const normal = gaussian(random);
  for (let j = 0; j < dim; j++) mean[j] += noiseStd * normal();
  const updateNorm = Math.hypot(...mean);
  // 4. Quality gate (post-processing of the noised mean, no privacy cost): when the expected
  //    noise is larger than the estimated signal, a step would mostly move the model at random.
  const noiseNorm = Math.sqrt(dim * (noiseStd ** 2 + mech.localNoiseStd ** 2 / (bounded.length - 2 * k)));
  const signalNorm = Math.sqrt(Math.max(0, updateNorm ** 2 - noiseNorm ** 2));
  const stats = activityStats(usable.map((r) => r.events), privacy.kThreshold);
  if (noiseNorm > 0 && signalNorm < noiseNorm) {
    return db.transaction(async (tx) => {
      const r: RoundReport = { ...base, round: null, status: 'skipped-noisy', cohort: bounded.length, clippedByServer, trimmedEachSide: k, sensitivity, days, noiseStd, updateNorm, noiseNorm, signalNorm, ...stats,
        note: `estimated signal ${signalNorm.toFixed(3)} < noise ${noiseNorm.toFixed(3)}: no candidate; these updates are spent` };
      const [{ id }] = await tx.query<{ id: number }>(`insert into rounds (model, status, cohort, report) values ($1, 'skipped-noisy', $2, $3) returning id`, [model.version, bounded.length, JSON.stringify(r)]);
      await tx.query(`update batches set round_id = $1 where round_id is null and id = any($2::text[])`, [id, rows.map((x) => x.id)]);
      return { ...r, round: id };
    });
  }
  // 5. Gradient step on the trainable tensors of the current model -> candidate version.
  const weights = masterWeights(model);
  let offset = 0;
  for (const name of TRAINABLE_TENSORS) {
    const t = weights.get(name)!;
    const next = Float32Array.from(t);
    for (let j = 0; j < next.length; j++) next[j] = t[j] - privacy.learningRate * mean[offset + j];
    weights.set(name, next);
    offset += t.length;
  }
  const report = await db.transaction(async (tx) => {
    const [{ id }] = await tx.query<{ id: number }>(`insert into rounds (model, status, cohort, report) values ($1, 'published-shadow', $2, '{}') returning id`, [model.version, bounded.length]);
    const candidate = buildCandidate(model, toMlp(model, weights), {
      method: 'dp-fedavg', round: id, cohort: bounded.length, clipNorm: privacy.clipNorm, trimmedEachSide: k,
      noiseMultiplier: mech.noiseMultiplier, noiseStd, learningRate: privacy.learningRate, tensors: TRAINABLE_TENSORS,
    });
    if (candidate.manifest.version === model.version) throw new Error('the round changed no published weight (update below the quantization step)');
    await tx.query(`update models set status = 'rejected' where status = 'shadow'`);
    await insertModel(tx, candidate, 'shadow', model.version, id);
    await tx.query(`update batches set round_id = $1 where round_id is null and id = any($2::text[])`, [id, rows.map((r) => r.id)]);
    const r: RoundReport = { ...base, round: id, status: 'published-shadow', cohort: bounded.length, clippedByServer, trimmedEachSide: k, sensitivity, days, noiseStd, updateNorm, noiseNorm, signalNorm, candidate: candidate.manifest.version, ...stats };
    await tx.query('update rounds set candidate = $1, report = $2 where id = $3', [candidate.manifest.version, JSON.stringify(r), id]);
    return r;
  });
  await registry.refresh();
  return report;
}

/** Per-activity impressions and reward rate, only for activities seen in >= k batches. */
export function activityStats(batches: SignalEvent[][], k: number): Pick<RoundReport, 'activities' | 'suppressedActivities'> {
  const by = new Map<string, { batches: number; impressions: number; reward: number }>();
  for (const events of batches) {
    const seen = new Set<string>();
    for (const e of events) {
      const s = by.get(e.a) ?? { batches: 0, impressions: 0, reward: 0 };
      if (!seen.has(e.a)) { s.batches += 1; seen.add(e.a); }
      s.impressions += 1;
      s.reward += e.r;
      by.set(e.a, s);
    }
  }
  const activities = [...by].filter(([, s]) => s.batches >= k).map(([id, s]) => ({ id, batches: s.batches, impressions: s.impressions, rewardRate: s.reward / s.impressions }));
  return { activities: activities.sort((a, b) => a.id.localeCompare(b.id)), suppressedActivities: by.size - activities.length };
}

const Z_ONE_SIDED_95 = 1.6448536269514722;

/**
 * Shadow promotion: devices ranked with the current model and reported, for each logged event,
 * the shadow policy's propensity q next to the logging propensity p. On those same events the
 * current policy's value is the mean reward and the shadow's is the IPW mean of (q/p) r; the
 * shadow is promoted when the one-sided 95% lower bound of the paired difference is above
 * -margin (not worse, at 95% confidence), and rejected when the upper bound is below -margin.
 */
export async function checkPromotion(db: Db, registry: ModelRegistry, promotion: { minEvents: number; margin: number }): Promise<PromotionReport | undefined> {
  const shadow = registry.getShadow();
  const current = registry.getCurrent();
  if (!shadow || !current) return undefined;
  const rows = await db.query<{ events: SignalEvent[] | string }>(`select events from batches where shadow = $1 and model = $2`, [shadow.version, current.version]);
  const events = rows.flatMap((r) => json<SignalEvent[]>(r.events)).filter((e) => e.q !== undefined);
  const base = { shadow: shadow.version, current: current.version, events: events.length };
  if (events.length < Math.max(2, promotion.minEvents)) {
    return { ...base, decision: 'kept-shadow', reason: `${events.length} off-policy events so far; promotion needs ${promotion.minEvents}` };
  }
  const ope = offPolicyEstimates(events.map((e) => ({ action: e.a, position: e.s, reward: e.r, propensity: e.p, targetPropensity: e.q! })));
  const diffs = events.map((e) => (e.q! / e.p) * e.r - e.r);
  const mean = diffs.reduce((a, b) => a + b, 0) / diffs.length;
  const sd = Math.sqrt(diffs.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, diffs.length - 1));
  const se = sd / Math.sqrt(diffs.length);
  const lower = mean - Z_ONE_SIDED_95 * se;
  const upper = mean + Z_ONE_SIDED_95 * se;
  const currentValue = events.reduce((a, e) => a + e.r, 0) / events.length;
  const decision: PromotionReport['decision'] = lower >= -promotion.margin ? 'promoted' : upper < -promotion.margin ? 'rejected' : 'kept-shadow';
  const report: PromotionReport = {
    ...base, decision, currentValue, shadowValue: ope.ipw.value, shadowCi: ope.ipw.ci, differenceLower: lower, effectiveSampleSize: ope.effectiveSampleSize,
    reason: decision === 'promoted' ? `shadow - current >= ${lower.toFixed(4)} at 95% (margin ${promotion.margin})`
      : decision === 'rejected' ? `shadow worse: difference <= ${upper.toFixed(4)} at 95%` : `not yet conclusive: lower bound ${lower.toFixed(4)} < -${promotion.margin}`,
  };
  if (decision !== 'kept-shadow') {
    await db.transaction(async (tx) => {
      if (decision === 'promoted') {
        await tx.query(`update models set status = 'retired' where status = 'current'`);
        await tx.query(`update models set status = 'current', promoted_at = now() where version = $1`, [shadow.version]);
      } else {
        await tx.query(`update models set status = 'rejected' where version = $1`, [shadow.version]);
      }
      await tx.query('insert into promotions (shadow, current, decision, report) values ($1, $2, $3, $4)', [shadow.version, current.version, decision, JSON.stringify(report)]);
    });
    await registry.refresh();
  }
  return report;
}
