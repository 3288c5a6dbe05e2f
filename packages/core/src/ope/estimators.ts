/**
 * Off-policy estimators for slates with positions, position-wise ("independent IPW"): each
 * logged impression is one (action, position, reward) with the logging policy's marginal
 * probability of showing that action at that position. The estimate is the target policy's
 * expected reward per impression. Shared by the model tools, the SDK and the server.
 */

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
  /** 95% confidence interval (normal approximation). */
  ci: [number, number];
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
  return { value: mean, stderr, ci: [mean - Z95 * stderr, mean + Z95 * stderr] };
}

/**
 * IPW, SNIPW and (with a reward model) DR. `dr.modelFor(i)` returns the reward model to use for
 * sample i, so cross-fitted models (fitted without sample i) plug in; pass `() => model` otherwise.
 */
export function offPolicyEstimates(
  logs: LoggedImpression[],
  dr?: { modelFor: (i: number) => RewardModel; target: TargetDistribution },
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
  if (dr) {
    const drTerms = logs.map((l, i) => {
      const q = dr.modelFor(i);
      let direct = 0;
      for (const [a, p] of dr.target(l.position)) direct += p * q(a, l.position);
      return direct + w[i] * (l.reward - q(l.action, l.position));
    });
    const d = meanAndStderr(drTerms);
    drEstimate = estimate(d.mean, d.stderr);
  }
  const sumW2 = w.reduce((a, b) => a + b * b, 0);
  return {
    n: logs.length,
    ipw: estimate(ipw.mean, ipw.stderr),
    snipw: estimate(sn, snErr),
    ...(drEstimate ? { dr: drEstimate } : {}),
    effectiveSampleSize: (sumW * sumW) / sumW2,
    maxWeight: w.reduce((m, x) => Math.max(m, x), -Infinity),
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
