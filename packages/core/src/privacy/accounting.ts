/**
 * Exact privacy accounting for compositions of Gaussian mechanisms (Dong, Roth & Su 2019,
 * "Gaussian differential privacy"). A Gaussian mechanism with L2 sensitivity Δ and noise std σ
 * is μ-GDP with μ = Δ/σ, and k of them compose to exactly μ-GDP with μ² = Σ μᵢ². μ-GDP holds
 * (ε, δ(ε))-DP for every ε with
 *   δ(ε) = Φ(−ε/μ + μ/2) − e^ε Φ(−ε/μ − μ/2),
 * which is tight (Balle & Wang 2018). Ledgers keep ρ = μ²/2: the zCDP parameter of the same
 * Gaussian, which adds up the same way; only the conversion to (ε, δ) is exact here.
 * One module for the device's accountant, the server's calibration and the docs' numbers.
 */

/** δ at which μ-GDP gives ε-DP. */
export function deltaForMu(mu: number, epsilon: number): number {
  if (mu <= 0) return 0;
  // e^ε Φ(b) in log space: for large ε, e^ε overflows while Φ(b) underflows.
  return Math.max(0, normalCdf(-epsilon / mu + mu / 2) - Math.exp(epsilon + logNormalCdf(-epsilon / mu - mu / 2)));
}

/** The largest μ whose composition still holds (ε, δ)-DP (δ(ε) is increasing in μ). */
export function muForEpsilon(epsilon: number, delta: number): number {
  let lo = 0;
  let hi = 1;
  while (deltaForMu(hi, epsilon) < delta) hi *= 2;
  for (let i = 0; i < 200; i++) {
    const mid = (lo + hi) / 2;
    if (deltaForMu(mid, epsilon) <= delta) lo = mid;
    else hi = mid;
  }
  return lo;
}

/** ρ = μ²/2 of one Gaussian release with sensitivity Δ and std σ. */
export function gaussianRho(sensitivity: number, sigma: number): number {
  return (sensitivity * sensitivity) / (2 * sigma * sigma);
}

/** The smallest ε that a composition with total ρ (= μ²/2) holds at δ. */
export function epsilonFromRho(rho: number, delta: number): number {
  if (rho <= 0) return 0;
  const mu = Math.sqrt(2 * rho);
  let lo = 0;
  let hi = 1;
  while (deltaForMu(mu, hi) > delta) hi *= 2;
  for (let i = 0; i < 200; i++) {
    const mid = (lo + hi) / 2;
    if (deltaForMu(mu, mid) > delta) lo = mid;
    else hi = mid;
  }
  return hi;
}

/** The largest total ρ (= μ²/2) within (ε, δ). */
export function rhoForEpsilon(epsilon: number, delta: number): number {
  const mu = muForEpsilon(epsilon, delta);
  return (mu * mu) / 2;
}

/** Noise multiplier z (σ = z Δ) so that `count` releases spend at most the budget. */
export function noiseMultiplierFor(epsilon: number, delta: number, count: number): number {
  return Math.sqrt(count / (2 * rhoForEpsilon(epsilon, delta)));
}

/** Standard normal CDF. */
export function normalCdf(x: number): number {
  return Math.exp(logNormalCdf(x));
}

/** ln Φ(x), accurate far into the lower tail. */
export function logNormalCdf(x: number): number {
  return Math.log(0.5) + logErfc(-x / Math.SQRT2);
}

/**
 * ln erfc(x). Numerical Recipes' Chebyshev fit erfc(z) = t·exp(−z² + P(t)), t = 1/(1 + z/2):
 * relative error < 1.2e-7 everywhere, also far in the tail (what δ(ε) needs), kept in log space.
 */
function logErfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const poly =
    -1.26551223 +
    t *
      (1.00002368 +
        t *
          (0.37409196 +
            t *
              (0.09678418 +
                t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  const logTail = Math.log(t) - z * z + poly;
  return x >= 0 ? logTail : Math.log(2 - Math.exp(logTail));
}
