/**
 * Off-policy estimators for slates with positions, position-wise ("independent IPW"): each
 * logged impression is one (action, position, reward) with the logging policy's marginal
 * probability of showing that action at that position. The estimate is the target policy's
 * expected reward per impression. Shared by the model tools, the SDK and the server.
 *
 * Definitions follow the Open Bandit Pipeline (obp/ope/estimators.py), with the position-wise
 * weight w_i = π_e(a_i | k_i) / π_b(a_i | k_i):
 *   IPW   = mean_i w_i r_i
 *   SNIPW = mean_i w_i r_i / mean_i w_i
 *   DR    = mean_i [ Σ_a π_e(a | k_i) q̂(a, k_i) + w_i (r_i − q̂(a_i, k_i)) ]
 */
import {
  clampInterval,
  clippedSensitivity,
  percentileBootstrap,
  weightDiagnostics,
  type ClippedEstimate,
  type WeightDiagnostics,
} from './diagnostics';

export interface LoggedImpression {
  action: string;
  position: number;
  reward: number;
  /** Logging policy: P(action shown at this position). */
  propensity: number;
  /** Target policy: P(action shown at this position). */
  targetPropensity: number;
}

export interface Estimate {
  value: number;
  /**
   * 95% confidence interval: normal approximation, or a seeded percentile bootstrap when the
   * weights are degenerate; clamped to [0, 1] when every reward is in [0, 1].
   */
  ci: [number, number];
  interval: 'normal' | 'bootstrap';
  stderr: number;
}

export interface OpeResult {
  n: number;
  ipw: Estimate;
  snipw: Estimate;
  dr?: Estimate;
  /** (sum w)^2 / sum w^2: how many logged samples the weighted estimate is worth. */
  effectiveSampleSize: number;
  maxWeight: number;
  /** ESS, the largest row's weight share (row named) and warnings. */
  diagnostics: WeightDiagnostics;
  /** IPW and SNIPW with weights clipped at 10, 100 and 1000 × the mean weight. */
  clipped: ClippedEstimate[];
}

export interface OpeOptions {
  /** Names row i in warnings (e.g. its item, position and propensity). */
  describeRow?: (i: number) => string;
  /** Percentile bootstrap used when the weights are degenerate (default 2,000 resamples, seed 12). */
  bootstrap?: { resamples?: number; seed?: number };
  /** Always use the bootstrap interval (not only when the weights are degenerate). */
  forceBootstrap?: boolean;
}

/** q(action, position): a reward model for the doubly robust estimator. */
export type RewardModel = (action: string, position: number) => number;

/** Target policy's distribution over actions at a position, for the DR direct term. */
export type TargetDistribution = (position: number) => Iterable<[action: string, probability: number]>;

const Z95 = 1.959963984540054;

function meanAndStderr(terms: number[]): { mean: number; stderr: number } {
  const n = terms.length;
  const mean = terms.reduce((a, b) => a + b, 0) / n;
  const variance = terms.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, n - 1);
  return { mean, stderr: Math.sqrt(variance / n) };
}

function estimate(mean: number, stderr: number): Estimate {
  return { value: mean, stderr, interval: 'normal', ci: [mean - Z95 * stderr, mean + Z95 * stderr] };
}

/**
 * IPW, SNIPW and (with a reward model) DR. `dr.modelFor(i)` returns the reward model to use for
 * sample i, so cross-fitted models (fitted without sample i) plug in; pass `() => model` otherwise.
 */
export function offPolicyEstimates(
  logs: LoggedImpression[],
  dr?: { modelFor: (i: number) => RewardModel; target: TargetDistribution },
  options: OpeOptions = {},
): OpeResult {
  if (logs.length === 0) throw new Error('offPolicyEstimates: no logged impressions');
  logs.forEach((l, i) => {
    if (!(l.propensity > 0 && l.propensity <= 1))
      throw new Error(`offPolicyEstimates: logs[${i}].propensity must be in (0, 1], got ${l.propensity}`);
    if (!(l.targetPropensity >= 0 && l.targetPropensity <= 1))
      throw new Error(`offPolicyEstimates: logs[${i}].targetPropensity must be in [0, 1], got ${l.targetPropensity}`);
  });
  const w = logs.map((l) => l.targetPropensity / l.propensity);
  const ipwTerms = logs.map((l, i) => w[i] * l.reward);
  const ipw = meanAndStderr(ipwTerms);

  // Self-normalised IPW: ratio estimator, delta-method variance.
  const sumW = w.reduce((a, b) => a + b, 0);
  const meanW = sumW / logs.length;
  const sn = ipwTerms.reduce((a, b) => a + b, 0) / sumW;
  const snTerms = logs.map((l, i) => (w[i] * (l.reward - sn)) / meanW);
  const snErr = meanAndStderr(snTerms).stderr;

  let drEstimate: Estimate | undefined;
  let drTerms: number[] | undefined;
  if (dr) {
    drTerms = logs.map((l, i) => {
      const q = dr.modelFor(i);
      let direct = 0;
      for (const [a, p] of dr.target(l.position)) direct += p * q(a, l.position);
      return direct + w[i] * (l.reward - q(l.action, l.position));
    });
    const d = meanAndStderr(drTerms);
    drEstimate = estimate(d.mean, d.stderr);
  }
  const rewards = logs.map((l) => l.reward);
  const diagnostics = weightDiagnostics(w, options.describeRow);
  const ipwEstimate = estimate(ipw.mean, ipw.stderr);
  const snEstimate = estimate(sn, snErr);
  if (diagnostics.degenerate || options.forceBootstrap) {
    const boot = (stat: (idx: Uint32Array) => number) => percentileBootstrap(logs.length, stat, options.bootstrap);
    const meanOf = (terms: number[]) => (idx: Uint32Array) => {
      let s = 0;
      for (const i of idx) s += terms[i];
      return s / idx.length;
    };
    ipwEstimate.ci = boot(meanOf(ipwTerms));
    ipwEstimate.interval = 'bootstrap';
    snEstimate.ci = boot((idx) => {
      let num = 0;
      let den = 0;
      for (const i of idx) {
        num += ipwTerms[i];
        den += w[i];
      }
      return den > 0 ? num / den : 0;
    });
    snEstimate.interval = 'bootstrap';
    if (drEstimate && drTerms) {
      drEstimate.ci = boot(meanOf(drTerms));
      drEstimate.interval = 'bootstrap';
    }
  }
  if (rewards.every((r) => r >= 0 && r <= 1)) for (const e of [ipwEstimate, snEstimate, drEstimate]) if (e) e.ci = clampInterval(e.ci);
  return {
    n: logs.length,
    ipw: ipwEstimate,
    snipw: snEstimate,
    ...(drEstimate ? { dr: drEstimate } : {}),
    effectiveSampleSize: diagnostics.effectiveSampleSize,
    maxWeight: diagnostics.maxWeight,
    diagnostics,
    clipped: clippedSensitivity(w, rewards),
  };
}

/**
 * Click rate per (action, position), shrunk towards the position's rate with `strength`
 * pseudo-impressions. Cross-fitted: the model for sample i is fitted on the other fold.
 */
export function crossFittedRateModel(logs: LoggedImpression[], folds = 2, strength = 20): (i: number) => RewardModel {
  const fit = (rows: LoggedImpression[]): RewardModel => {
    const byPos = new Map<number, [number, number]>();
    const byPair = new Map<string, [number, number]>();
    for (const r of rows) {
      const p = byPos.get(r.position) ?? [0, 0];
      byPos.set(r.position, [p[0] + r.reward, p[1] + 1]);
      const k = `${r.action}|${r.position}`;
      const q = byPair.get(k) ?? [0, 0];
      byPair.set(k, [q[0] + r.reward, q[1] + 1]);
    }
    return (action, position) => {
      const [ps, pn] = byPos.get(position) ?? [0, 0];
      const base = pn ? ps / pn : 0;
      const [s, n] = byPair.get(`${action}|${position}`) ?? [0, 0];
      return (s + strength * base) / (n + strength);
    };
  };
  const models = Array.from({ length: folds }, (_, f) => fit(logs.filter((_, i) => i % folds !== f)));
  return (i: number) => models[i % folds];
}
