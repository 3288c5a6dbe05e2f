/** Owns the DP mechanism derived from the privacy configuration: what rounds apply and GET /v1/privacy publishes. */
import { noiseMultiplierFor } from '@vitrine/core/privacy';
import type { PrivacyConfig } from './config';

export type Mechanism = ReturnType<typeof mechanism>;

/** Derived mechanism parameters (also what GET /v1/privacy publishes). */
export function mechanism(p: PrivacyConfig) {
  const z = noiseMultiplierFor(p.epsilon, p.delta, p.contributionsPerWindow);
  return {
    noiseMultiplier: z,
    rhoPerContribution: 1 / (2 * z * z),
    // Each device's share: minCohort honest devices' local noise alone sums to the central level.
    localNoiseStd: p.noise === 'none' ? 0 : (z * 2 * p.clipNorm) / Math.sqrt(p.minCohort),
    minHoursBetween: (p.windowDays * 24) / p.contributionsPerWindow,
  };
}
