/** Owns one DP aggregation round: norm bound, trimmed mean, noise, quality gate, gradient step; publishes via registry/. */
import { TRAINABLE_TENSORS, updateDimension } from '@vitrine/core/privacy';
import type { PrivacyConfig } from '../config';
import { mechanism } from '../mechanism';
import { checkPromotion, type PromotionConfig, type PromotionReport } from '../promotion/check';
import { buildCandidate } from '../registry/candidate';
import type { ModelRegistry } from '../registry/registry';
import { masterWeights, toMlp } from '../registry/weights';
import { assignBatchesToRound, selectPendingUpdates } from '../store/batches';
import type { Db } from '../store/db';
import { completeRound, insertRound } from '../store/rounds';
import { activityStats, type ActivityStats } from './activity-stats';
import { clipL2, gaussian, trimCount, trimmedMean } from './robust';

export interface RoundReport extends ActivityStats {
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
  promotion?: PromotionReport;
  note?: string;
}

/**
 * One aggregation round: DP federated averaging of the pending clipped updates for the
 * current model (server norm bound, coordinate-wise trimmed mean, Gaussian noise calibrated to
 * the trimmed mean's sensitivity), then a candidate version published as the shadow model.
 * Also checks whether the existing shadow has earned promotion.
 */
export async function runRound(
  db: Db,
  registry: ModelRegistry,
  privacy: PrivacyConfig,
  promotion: PromotionConfig,
  random?: () => number,
): Promise<RoundReport> {
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
  const rows = await selectPendingUpdates(db, versions);
  const batchIds = rows.map((r) => r.id);
  const dim = updateDimension(model.manifest);
  const usable = rows.filter((r) => r.gradient.length === dim);
  const updates = usable.map((r) => r.gradient);
  // A device opens at most one update batch per minHoursBetween (24 h) and its events follow
  // the opening, so one device's updates fall on distinct UTC days (by their first event). A
  // round spanning D days may hold up to D updates of one device: the noise is scaled by D,
  // which keeps the per-contribution cost the device charged an upper bound.
  const days = new Set(usable.map((r) => Math.floor(Math.min(...r.events.map((e) => e.timeBucket)) / 24))).size;
  const base = {
    model: model.version,
    cohort: updates.length,
    clippedByServer: 0,
    trimmedEachSide: 0,
    sensitivity: 0,
    days: 0,
    noiseStd: 0,
    updateNorm: 0,
    noiseNorm: 0,
    signalNorm: 0,
    activities: [],
    suppressedActivities: 0,
    ...(promo ? { promotion: promo } : {}),
  };
  if (updates.length < privacy.minCohort || updates.length < 1) {
    const note = `${updates.length} updates pending for ${versions.join(', ')}; a round needs ${privacy.minCohort}`;
    return { ...base, round: null, status: 'waiting', note };
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
  const stats = activityStats(
    usable.map((r) => r.events),
    privacy.kThreshold,
  );
  const measured = {
    cohort: bounded.length,
    clippedByServer,
    trimmedEachSide: k,
    sensitivity,
    days,
    noiseStd,
    updateNorm,
    noiseNorm,
    signalNorm,
    ...stats,
  };
  if (noiseNorm > 0 && signalNorm < noiseNorm) {
    return db.transaction(async (tx) => {
      const r: RoundReport = {
        ...base,
        round: null,
        status: 'skipped-noisy',
        ...measured,
        note: `estimated signal ${signalNorm.toFixed(3)} < noise ${noiseNorm.toFixed(3)}: no candidate; these updates are spent`,
      };
      const id = await insertRound(tx, model.version, 'skipped-noisy', bounded.length, r);
      await assignBatchesToRound(tx, id, batchIds);
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
    const id = await insertRound(tx, model.version, 'published-shadow', bounded.length);
    const candidate = buildCandidate(model, toMlp(model, weights), {
      method: 'dp-fedavg',
      round: id,
      cohort: bounded.length,
      clipNorm: privacy.clipNorm,
      trimmedEachSide: k,
      noiseMultiplier: mech.noiseMultiplier,
      noiseStd,
      learningRate: privacy.learningRate,
      tensors: TRAINABLE_TENSORS,
    });
    if (candidate.manifest.version === model.version) {
      throw new Error('the round changed no published weight (update below the quantization step)');
    }
    await registry.publishShadow(candidate, id, tx);
    await assignBatchesToRound(tx, id, batchIds);
    const r: RoundReport = { ...base, round: id, status: 'published-shadow', ...measured, candidate: candidate.manifest.version };
    await completeRound(tx, id, candidate.manifest.version, r);
    return r;
  });
  await registry.refresh();
  return report;
}
