/** Owns one DP aggregation round: per-network means, noised sums, the Newton step on the head; publishes via registry/. */
import { clipInPlace, foldHead, gaussian, headLayout, unfoldHead, type UpdatePrior } from '@vitrine/core/privacy';
import type { MlpWeights } from '@vitrine/core/artifact';
import type { PrivacyConfig } from '../config';
import { mechanism } from '../mechanism';
import { checkPromotion, type PromotionConfig, type PromotionReport } from '../promotion/check';
import { buildCandidate } from '../registry/candidate';
import type { ModelRegistry } from '../registry/registry';
import { masterWeights, toMlp } from '../registry/weights';
import { assignBatchesToRound, selectPendingUpdates, type PendingUpdate } from '../store/batches';
import type { Db } from '../store/db';
import { insertRoundStatistics, selectRoundStatistics } from '../store/learning';
import type { StoredModel } from '../store/models';
import { completeRound, insertRound, selectRecentRounds } from '../store/rounds';
import { activityStats, type ActivityStats } from './activity-stats';
import { solveHead, type SolverConfig } from './newton';

export interface RoundReport extends ActivityStats {
  round: number | null;
  status: 'waiting' | 'published-shadow';
  model: string;
  /** Distinct networks in the round: each counts as one contributor, whatever it sent. */
  cohort: number;
  /** Updates received (several from one network are averaged into one). */
  updates: number;
  /** Updates whose norm the server had to bound (a well-behaved device's never are). */
  clippedByServer: number;
  /** Most contributions one device can have in this round (from the server's receive times). */
  contributionsPerDevice: number;
  sigmaGradient: number;
  sigmaCurvature: number;
  /** Contributions estimated from the noised curvature, per round in the solve. */
  estimatedContributions: number[];
  /** Rounds whose sums the Newton step combined. */
  roundsCombined: number;
  /** |θ_candidate − θ_current|. */
  stepNorm: number;
  thetaNorm: number;
  candidate?: string;
  promotion?: PromotionReport;
  note?: string;
}

/**
 * One aggregation round. Updates (each device's clipped gradient and curvature sums of the
 * residual head, computed at the model it ranked with) are averaged per network, summed per
 * model version, and noised on the sum (σ = z × clip × contributions per device). The sums of
 * the last `contributionsPerWindow` rounds and the seed prior give the new head by one Newton
 * solve; the folded network is published as the shadow. Also checks whether the existing
 * shadow has earned promotion.
 */
export async function runRound(
  db: Db,
  registry: ModelRegistry,
  privacy: PrivacyConfig,
  promotion: PromotionConfig,
  random?: () => number,
): Promise<RoundReport> {
  await registry.refresh();
  if (!registry.getCurrent()) throw new Error('no current model');
  const promo = await checkPromotion(db, registry, promotion);
  if (promo?.decision === 'promoted') await registry.refresh();
  const model = registry.getCurrent()!;
  const mech = mechanism(privacy);
  const base = registry.baseOf(model);
  const empty = {
    model: model.version,
    cohort: 0,
    updates: 0,
    clippedByServer: 0,
    contributionsPerDevice: 0,
    sigmaGradient: 0,
    sigmaCurvature: 0,
    estimatedContributions: [],
    roundsCombined: 0,
    stepNorm: 0,
    thetaNorm: 0,
    activities: [],
    suppressedActivities: 0,
    ...(promo ? { promotion: promo } : {}),
  };
  const prior = await registry.prior(base);
  const layout = headLayout(model.manifest);
  if (!prior || !layout || prior.dimension !== layout.dimension) {
    return { ...empty, round: null, status: 'waiting', note: `model ${model.version} has no update prior: it learns nothing from updates` };
  }
  // Updates are sums at the model the devices ran. When this round just promoted the shadow,
  // the updates sent for its parent are kept: their θ is known, the solve accounts for it.
  const versions = [model.version, ...(promo?.decision === 'promoted' ? [promo.current] : [])];
  const rows = (await selectPendingUpdates(db, versions)).filter(
    (r) => r.gradient.length === prior.dimension && r.curvature.length === prior.dimension,
  );
  const spacing = privacy.roundSpacingHours ?? mech.minHoursBetween;
  const [last] = (await selectRecentRounds(db, 20)).filter((r) => r.status === 'published-shadow');
  if (last && Date.now() - new Date(last.at).getTime() < spacing * 3_600_000) {
    const due = new Date(new Date(last.at).getTime() + spacing * 3_600_000).toISOString();
    return { ...empty, round: null, status: 'waiting', note: `rounds are ${spacing} h apart; the next is due at ${due}` };
  }
  const networks = new Set(rows.map((r) => r.network));
  if (networks.size < Math.max(1, privacy.minCohort)) {
    const pending = `${rows.length} updates from ${networks.size} networks pending for ${versions.join(', ')}`;
    const note = `${pending}; a round needs ${privacy.minCohort} networks`;
    return { ...empty, cohort: networks.size, updates: rows.length, round: null, status: 'waiting', note };
  }
  // A device opens at most one update per minHoursBetween (its own ledger), so a round whose
  // updates arrived over a span S holds at most floor(S / minHoursBetween) + 1 of one device:
  // the sensitivity, hence the noise, scales with that (the server's clock, never the client's).
  const received = rows.map((r) => r.receivedAt);
  // A loop, not Math.max(...received): tens of thousands of arguments overflow the stack.
  const spanHours =
    (received.reduce((m, x) => Math.max(m, x), -Infinity) - received.reduce((m, x) => Math.min(m, x), Infinity)) / 3_600_000;
  const perDevice = Math.floor(spanHours / Math.max(mech.minHoursBetween, 1e-9)) + 1;
  const noiseOn = privacy.noise !== 'none';
  const sigmaGradient = noiseOn ? mech.noiseMultiplierGradient * prior.clipGradient * perDevice : 0;
  const sigmaCurvature = noiseOn ? mech.noiseMultiplierCurvature * prior.clipCurvature * perDevice : 0;
  const normal = gaussian(random);
  let clippedByServer = 0;
  const sums = versions
    .map((version) => {
      const own = rows.filter((r) => r.model === version);
      if (!own.length) return null;
      const { gradient, curvature, clipped } = perNetworkSums(own, prior);
      clippedByServer += clipped;
      for (let j = 0; j < prior.dimension; j++) {
        gradient[j] += sigmaGradient * normal();
        curvature[j] += sigmaCurvature * normal();
      }
      return { version, gradient: Array.from(gradient), curvature: Array.from(curvature) };
    })
    .filter((s) => s !== null);
  const stats = activityStats(
    rows.map((r) => r.events),
    privacy.kThreshold,
  );
  const frozen = frozenMlp(await registry.get(base));
  const thetaOf = async (version: string) => {
    const m = await modelOrThrow(registry, version);
    return unfoldHead(frozen, toMlp(m, masterWeights(m)), layout);
  };
  const currentTheta = await thetaOf(model.version);
  const report = await db.transaction(async (tx) => {
    const id = await insertRound(tx, model.version, 'published-shadow', networks.size);
    for (const s of sums)
      await insertRoundStatistics(tx, {
        round: id,
        base,
        model: s.version,
        gradient: s.gradient,
        curvature: s.curvature,
        sigmaGradient,
        sigmaCurvature,
      });
    const history = await selectRoundStatistics(tx, base, privacy.contributionsPerWindow + sums.length - 1);
    const rounds = [];
    for (const h of history) rounds.push({ ...h, theta: await thetaOf(h.model) });
    const solver: SolverConfig = {
      priorWeight: privacy.priorWeight,
      ridgePerContribution: privacy.ridgePerContribution,
      noiseRidge: privacy.noiseRidge,
    };
    const { theta, contributions } = solveHead(prior, rounds, solver);
    const candidate = buildCandidate(
      model,
      foldHead(frozen, theta, layout),
      {
        method: 'dp-newton-residual-head',
        round: id,
        cohort: networks.size,
        roundsCombined: rounds.length,
        sigmaGradient,
        sigmaCurvature,
        base,
      },
      { base, frozenUnits: layout.frozenUnits },
    );
    if (candidate.manifest.version === model.version) throw new Error('the round changed no published weight');
    await registry.publishShadow(candidate, id, tx);
    await assignBatchesToRound(
      tx,
      id,
      rows.map((r) => r.id),
    );
    const r: RoundReport = {
      ...empty,
      round: id,
      status: 'published-shadow',
      cohort: networks.size,
      updates: rows.length,
      clippedByServer,
      contributionsPerDevice: perDevice,
      sigmaGradient,
      sigmaCurvature,
      estimatedContributions: contributions.map((c) => Math.round(c)),
      roundsCombined: rounds.length,
      stepNorm: distance(theta, currentTheta),
      thetaNorm: distance(theta, new Float64Array(theta.length)),
      ...stats,
      candidate: candidate.manifest.version,
    };
    await completeRound(tx, id, candidate.manifest.version, r);
    return r;
  });
  await registry.refresh();
  return report;
}

/**
 * Σ over networks of the mean of that network's updates, each bounded to the published clip
 * norms. Adding one device changes its network's mean by at most one clip norm (from nothing to
 * its update, or (u − mean)/(k + 1) with k ≥ 1 others), so the sum's sensitivity under
 * add/remove-one-device stays the clip norm, and one network (one attacker's IP, however many
 * requests) weighs as much as one honest shopper.
 */
export function perNetworkSums(rows: PendingUpdate[], prior: Pick<UpdatePrior, 'dimension' | 'clipGradient' | 'clipCurvature'>) {
  const d = prior.dimension;
  const byNetwork = new Map<string, { g: Float64Array; h: Float64Array; n: number }>();
  let clipped = 0;
  for (const r of rows) {
    const g = Float64Array.from(r.gradient);
    const h = Float64Array.from(r.curvature, (x) => Math.max(0, x));
    if (clipInPlace(g, prior.clipGradient) > prior.clipGradient * (1 + 1e-6)) clipped += 1;
    else if (clipInPlace(h, prior.clipCurvature) > prior.clipCurvature * (1 + 1e-6)) clipped += 1;
    clipInPlace(h, prior.clipCurvature);
    const acc = byNetwork.get(r.network) ?? { g: new Float64Array(d), h: new Float64Array(d), n: 0 };
    for (let j = 0; j < d; j++) {
      acc.g[j] += g[j];
      acc.h[j] += h[j];
    }
    acc.n += 1;
    byNetwork.set(r.network, acc);
  }
  const gradient = new Float64Array(d);
  const curvature = new Float64Array(d);
  for (const { g, h, n } of byNetwork.values())
    for (let j = 0; j < d; j++) {
      gradient[j] += g[j] / n;
      curvature[j] += h[j] / n;
    }
  return { gradient, curvature, clipped, networks: byNetwork.size };
}

function frozenMlp(base: StoredModel | null): MlpWeights {
  if (!base) throw new Error('the base model of the current version is missing');
  return toMlp(base, masterWeights(base));
}

async function modelOrThrow(registry: ModelRegistry, version: string): Promise<StoredModel> {
  const m = await registry.get(version);
  if (!m) throw new Error(`model ${version} is missing`);
  return m;
}

function distance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let j = 0; j < a.length; j++) s += (a[j] - b[j]) ** 2;
  return Math.sqrt(s);
}
