/** Owns the residual head's solver: the Newton step on the noised sums, the seed prior and the noise-aware ridge. */
import type { UpdatePrior } from '@vitrine/core/privacy';

/** One round's noised sums and the head θ the devices computed them at. */
export interface RoundSums {
  gradient: ArrayLike<number>;
  curvature: ArrayLike<number>;
  theta: ArrayLike<number>;
  sigmaGradient: number;
}

export interface SolverConfig {
  /** Weight of the seed Fisher as prior precision (1: the seed data counts once, as in central training). */
  priorWeight: number;
  /** Ridge per estimated contribution: keeps θ small where neither seed nor devices say much. */
  ridgePerContribution: number;
  /** Noise-aware ridge c: λ += c σ², so a noisier release moves the model less. */
  noiseRidge: number;
}

/**
 * θ minimizing the sum of the rounds' quadratic models of the log loss plus the priors:
 *   Σ_r [ G_r·(θ − θ_r) + ½ (θ − θ_r)ᵀ H_r (θ − θ_r) ] + ½ θᵀ (w F_seed + λ I) θ
 * where H_r = S_r C S_r combines the round's noisy diagonal curvature (S_r² = max(ĥ_r, a floor
 * from the seed)) with the seed Fisher's correlations C, and λ = ridgePerContribution × the
 * estimated contributions + noiseRidge × σ². Everything here is post-processing of DP outputs
 * and of public seed data: it costs no privacy. Returns θ and the estimated contributions.
 */
export function solveHead(prior: UpdatePrior, rounds: RoundSums[], config: SolverConfig): { theta: Float64Array; contributions: number[] } {
  const d = prior.dimension;
  const F = prior.fisher;
  const bias = d - 1;
  // Per-contribution seed curvature: the scale of one device's diagonal.
  const perContribution = (j: number) => F[j * d + j] / prior.contributions;
  const A = new Float64Array(d * d);
  const b = new Float64Array(d);
  const contributions: number[] = [];
  let sigma2 = 0;
  for (const r of rounds) {
    // Contributions in the round, estimated from the bias coordinate's curvature Σ p(1 − p).
    const alpha = Math.max(1, r.curvature[bias] / perContribution(bias));
    contributions.push(alpha);
    sigma2 = Math.max(sigma2, r.sigmaGradient ** 2);
    const s = new Float64Array(d);
    for (let j = 0; j < d; j++) s[j] = Math.sqrt(Math.max(r.curvature[j], 0.25 * alpha * perContribution(j), 1e-9));
    for (let i = 0; i < d; i++) {
      const fi = F[i * d + i];
      let hTheta = 0;
      for (let j = 0; j < d; j++) {
        let h: number;
        if (i === j) h = s[i] * s[i];
        else {
          const fj = F[j * d + j];
          h = fi > 0 && fj > 0 ? (s[i] * s[j] * F[i * d + j]) / Math.sqrt(fi * fj) : 0;
        }
        A[i * d + j] += h;
        hTheta += h * r.theta[j];
      }
      b[i] += hTheta - r.gradient[i];
    }
  }
  const total = contributions.reduce((x, y) => x + y, 0);
  const ridge = config.ridgePerContribution * total + config.noiseRidge * sigma2;
  for (let k = 0; k < d * d; k++) A[k] += config.priorWeight * F[k];
  for (let j = 0; j < d; j++) A[j * d + j] += ridge + 1e-9;
  return { theta: choleskySolve(A, b, d), contributions };
}

/** Solves A x = b for symmetric positive definite A (Cholesky; A is overwritten). */
export function choleskySolve(A: Float64Array, b: ArrayLike<number>, d: number): Float64Array {
  for (let j = 0; j < d; j++) {
    let s = A[j * d + j];
    for (let k = 0; k < j; k++) s -= A[j * d + k] * A[j * d + k];
    if (!(s > 0)) throw new Error('choleskySolve: matrix is not positive definite');
    const l = Math.sqrt(s);
    A[j * d + j] = l;
    for (let i = j + 1; i < d; i++) {
      let t = A[i * d + j];
      for (let k = 0; k < j; k++) t -= A[i * d + k] * A[j * d + k];
      A[i * d + j] = t / l;
    }
  }
  const y = new Float64Array(d);
  for (let i = 0; i < d; i++) {
    let s = b[i];
    for (let k = 0; k < i; k++) s -= A[i * d + k] * y[k];
    y[i] = s / A[i * d + i];
  }
  const x = new Float64Array(d);
  for (let i = d - 1; i >= 0; i--) {
    let s = y[i];
    for (let k = i + 1; k < d; k++) s -= A[k * d + i] * x[k];
    x[i] = s / A[i * d + i];
  }
  return x;
}
