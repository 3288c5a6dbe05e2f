/**
 * k-ary randomized response (Warner 1965; Kairouz et al. 2016), the mechanism of segment reports.
 * A device in category t of m reports t with probability p = e^ε/(e^ε+m−1) and each other category
 * with q = 1/(e^ε+m−1). For any two true categories the odds of any report differ by at most
 * p/q = e^ε: ε-local differential privacy with respect to the device's segment (adjacency: the
 * same device in any other segment). Pure ε-DP implies ε²/2-zCDP, the cost the accountant adds.
 */
export interface ResponseProbabilities {
  /** Probability of reporting the true category. */
  truth: number;
  /** Probability of reporting one given other category. */
  other: number;
}

export function responseProbabilities(categories: number, epsilon: number): ResponseProbabilities {
  if (!Number.isInteger(categories) || categories < 2) throw new RangeError('randomized response needs at least 2 categories');
  if (!(epsilon > 0) || !Number.isFinite(epsilon)) throw new RangeError('epsilon must be a positive number');
  const e = Math.exp(epsilon);
  return { truth: e / (e + categories - 1), other: 1 / (e + categories - 1) };
}

/** The category to report for true category `index` (0 ≤ index < categories). */
export function randomizeCategory(index: number, categories: number, epsilon: number, random: () => number): number {
  const { truth } = responseProbabilities(categories, epsilon);
  if (random() < truth) return index;
  // Uniform over the m − 1 other categories.
  const other = Math.min(categories - 2, Math.floor(random() * (categories - 1)));
  return other >= index ? other + 1 : other;
}

/** zCDP cost of one report. */
export function reportRho(epsilon: number): number {
  return (epsilon * epsilon) / 2;
}

/**
 * Unbiased estimates of the true counts per category from reported counts: E[reported_j] =
 * q·N + (p − q)·true_j, so true_j ≈ (reported_j − q·N)/(p − q). Estimates may be negative or
 * fractional; `variance` is each estimate's sampling variance (for intervals and thresholds).
 */
export function debiasCounts(reported: readonly number[], epsilon: number): { estimates: number[]; variance: number[] } {
  const m = reported.length;
  const { truth: p, other: q } = responseProbabilities(m, epsilon);
  const n = reported.reduce((s, x) => s + x, 0);
  const estimates = reported.map((r) => (r - q * n) / (p - q));
  // Var of reported_j given the truth: sum of Bernoullis; approximated with the estimated truth mix.
  const variance = estimates.map((t) => {
    const tj = Math.min(Math.max(t, 0), n);
    return (tj * p * (1 - p) + (n - tj) * q * (1 - q)) / ((p - q) * (p - q));
  });
  return { estimates, variance };
}
