/**
 * Zero-concentrated DP (Bun & Steinke 2016) for the Gaussian mechanism: noise std sigma on a
 * query of L2 sensitivity Delta is rho-zCDP with rho = Delta^2 / (2 sigma^2); costs add up
 * under composition, and rho-zCDP implies (rho + 2 sqrt(rho ln(1/delta)), delta)-DP.
 * One module for the device's accountant, the server's calibration and the docs' numbers.
 */
export function gaussianRho(sensitivity: number, sigma: number): number {
  return (sensitivity * sensitivity) / (2 * sigma * sigma);
}

export function epsilonFromRho(rho: number, delta: number): number {
  if (rho <= 0) return 0;
  return rho + 2 * Math.sqrt(rho * Math.log(1 / delta));
}

/** The largest rho whose (epsilon, delta) conversion stays within epsilon. */
export function rhoForEpsilon(epsilon: number, delta: number): number {
  // epsilon = rho + 2 sqrt(rho L), L = ln(1/delta): a quadratic in sqrt(rho).
  const L = Math.log(1 / delta);
  const s = -Math.sqrt(L) + Math.sqrt(L + epsilon);
  return s * s;
}

/** Noise multiplier z (sigma = z * sensitivity) so that `count` contributions spend at most the budget. */
export function noiseMultiplierFor(epsilon: number, delta: number, count: number): number {
  return Math.sqrt(count / (2 * rhoForEpsilon(epsilon, delta)));
}
