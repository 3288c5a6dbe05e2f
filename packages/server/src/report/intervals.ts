/**
 * Owns the report's interval math (pure): Wilson intervals for a rate of independent trials, and
 * ratio-of-sums estimates whose variance treats each batch as one cluster. Events of one batch
 * come from one device and mostly one visit, so they are correlated (a shopper who clicks tends
 * to click again); treating them as independent makes intervals too narrow. The batch is the
 * finest unit the server has (devices carry no id, by design).
 */

/** Φ⁻¹(0.975). */
export const Z95 = 1.959963984540054;

export interface Interval {
  estimate: number;
  low: number;
  high: number;
}

/** Wilson's 95% interval for `successes` of `n` independent trials (null when n = 0). */
export function wilson(successes: number, n: number): Interval | null {
  if (!(n > 0)) return null;
  const p = successes / n;
  const z2 = Z95 * Z95;
  const center = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (Z95 * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / (1 + z2 / n);
  return { estimate: p, low: Math.max(0, center - half), high: Math.min(1, center + half) };
}

/**
 * Σy / Σx over clusters (one entry per cluster: y[b], x[b]) with a 95% interval from the
 * linearized, cluster-robust variance Var(R) ≈ n/(n−1) Σ_b (y_b − R x_b)² / (Σx)² (the sandwich
 * estimator of a ratio; clusters drawn independently). Clamped to `bounds`. Null without at least
 * two clusters or with Σx ≤ 0.
 */
export function ratioOfSums(y: ArrayLike<number>, x: ArrayLike<number>, bounds: [number, number] = [0, 1]): Interval | null {
  const n = y.length;
  let sy = 0;
  let sx = 0;
  for (let b = 0; b < n; b++) {
    sy += y[b];
    sx += x[b];
  }
  if (n < 2 || !(sx > 0)) return null;
  const r = sy / sx;
  let ss = 0;
  for (let b = 0; b < n; b++) ss += (y[b] - r * x[b]) ** 2;
  const se = Math.sqrt((n / (n - 1)) * ss) / sx;
  return { estimate: r, low: Math.max(bounds[0], r - Z95 * se), high: Math.min(bounds[1], r + Z95 * se) };
}

/** One arm's sums per cluster (the same clusters, in the same order, for both arms of a comparison). */
export interface ClusterSums {
  /** Numerator per cluster (clicks, or rewards). */
  y: ArrayLike<number>;
  /** Denominator per cluster (impressions). */
  x: ArrayLike<number>;
}

/**
 * Relative lift (Σy_a/Σx_a) / (Σy_b/Σx_b) − 1 with a 95% interval by the delta method on the log
 * ratio: each cluster's influence on log R_a − log R_b is
 *   u_b = (y_a,b/Y_a − x_a,b/X_a) − (y_b,b/Y_b − x_b,b/X_b),
 * Var ≈ n/(n−1) Σ u_b², and the interval exp(log ratio ± z·se) − 1 (asymmetric, never below −1).
 * Clusters holding events of both arms count once, so their covariance is accounted for. Null when
 * either arm has no success (the log ratio is undefined) or fewer than two clusters.
 */
export function relativeLift(a: ClusterSums, b: ClusterSums): Interval | null {
  const n = a.y.length;
  if (n < 2 || a.x.length !== n || b.y.length !== n || b.x.length !== n) return null;
  const sum = (v: ArrayLike<number>) => {
    let s = 0;
    for (let i = 0; i < v.length; i++) s += v[i];
    return s;
  };
  const [ya, xa, yb, xb] = [sum(a.y), sum(a.x), sum(b.y), sum(b.x)];
  if (!(ya > 0 && xa > 0 && yb > 0 && xb > 0)) return null;
  let ss = 0;
  for (let i = 0; i < n; i++) {
    const u = a.y[i] / ya - a.x[i] / xa - (b.y[i] / yb - b.x[i] / xb);
    ss += u * u;
  }
  const logRatio = Math.log(ya / xa) - Math.log(yb / xb);
  const se = Math.sqrt((n / (n - 1)) * ss);
  return { estimate: Math.exp(logRatio) - 1, low: Math.exp(logRatio - Z95 * se) - 1, high: Math.exp(logRatio + Z95 * se) - 1 };
}
