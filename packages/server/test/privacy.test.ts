/**
 * One test per promise of docs/privacy.md: the numbers a privacy reviewer reads there are the
 * ones these tests check.
 */
import { describe, expect, it } from 'vitest';
import * as v from 'valibot';
import {
  computeUpdatePrior,
  deltaForMu,
  epsilonFromRho,
  gaussian,
  l2Norm,
  muForEpsilon,
  rhoForEpsilon,
  sufficientStatistics,
  type HeadExample,
} from '@vitrine/core/privacy';
import { BatchSchema, parseWireBatch as parseBatch, SignalFormatError } from '@vitrine/core/protocol';
import { seededRandom } from '@vitrine/core/random';
import { activityStats } from '../src/rounds/activity-stats';
import { perNetworkSums } from '../src/rounds/round';
import type { PendingUpdate } from '../src/store/batches';
import { DEFAULT_PRIVACY } from '../src/config';
import { contributionRho, mechanism, segmentReportRho } from '../src/mechanism';

/** A random sparse head example in dimension d (the last coordinate is the bias input 1). */
function example(random: () => number, d: number, scale = 1): HeadExample {
  const index: number[] = [];
  const value: number[] = [];
  for (let j = 0; j < d - 1; j++)
    if (random() < 0.1) {
      index.push(j);
      value.push(scale * (random() < 0.5 ? 1 : random() * 40));
    }
  index.push(d - 1);
  value.push(1);
  return { index, value, logit: (random() - 0.5) * 12 };
}

/**
 * δ(ε) of `releases` Gaussian releases (each with sensitivity/σ = μᵢ) by numerically integrating
 * the privacy-loss distribution: the loss of one release is N(μᵢ²/2, μᵢ²); the composition's loss
 * is the sum, integrated on a grid against E[(1 − e^{ε − L})₊]. Independent of the closed form
 * (no Φ, no GDP theorem): Riemann sum over a fine grid.
 */
function deltaByIntegration(mus: number[], epsilon: number): number {
  const mean = mus.reduce((s, m) => s + (m * m) / 2, 0);
  const sd = Math.sqrt(mus.reduce((s, m) => s + m * m, 0));
  // Convolving Gaussian densities numerically, release by release, on a shared grid.
  const step = sd / 400;
  const lo = -12 * sd;
  const n = Math.ceil((24 * sd + mean * 2) / step);
  let density = new Float64Array(n);
  density[Math.round(-lo / step)] = 1 / step; // the loss starts at 0
  for (const m of mus) {
    const kernelHalf = Math.ceil((9 * m) / step);
    const kernel = Float64Array.from({ length: 2 * kernelHalf + 1 }, (_, k) => {
      const x = (k - kernelHalf) * step + (m * m) / 2;
      return (Math.exp(-((x - (m * m) / 2) ** 2) / (2 * m * m)) / Math.sqrt(2 * Math.PI * m * m)) * step;
    });
    const shift = Math.round((m * m) / 2 / step);
    const next = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      if (!density[i]) continue;
      for (let k = 0; k < kernel.length; k++) {
        const at = i + k - kernelHalf + shift;
        if (at >= 0 && at < n) next[at] += density[i] * kernel[k];
      }
    }
    density = next;
  }
  let delta = 0;
  for (let i = 0; i < n; i++) {
    const loss = lo + i * step;
    if (loss > epsilon) delta += density[i] * step * (1 - Math.exp(epsilon - loss));
  }
  return delta;
}

/**
 * Φ on a fine grid by the trapezoid rule on the normal density (independent of the accounting
 * module's erfc fit; error below 1e-9), interpolated; Φ⁻¹ by bisection on the same table.
 */
const GRID_STEP = 1e-4;
const GRID_FROM = -12;
const PHI_TABLE = (() => {
  const n = Math.round(24 / GRID_STEP) + 1;
  const table = new Float64Array(n);
  const density = (t: number) => Math.exp((-t * t) / 2) / Math.sqrt(2 * Math.PI);
  for (let i = 1; i < n; i++) {
    const a = GRID_FROM + (i - 1) * GRID_STEP;
    table[i] = table[i - 1] + ((density(a) + density(a + GRID_STEP)) * GRID_STEP) / 2;
  }
  return table;
})();

function phi(x: number): number {
  const at = (x - GRID_FROM) / GRID_STEP;
  if (at <= 0) return 0;
  if (at >= PHI_TABLE.length - 1) return 1;
  const i = Math.floor(at);
  return PHI_TABLE[i] + (at - i) * (PHI_TABLE[i + 1] - PHI_TABLE[i]);
}

function phiInverse(p: number): number {
  let lo = GRID_FROM;
  let hi = -GRID_FROM;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (phi(mid) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** Trade-off function of k-ary randomized response at ε with m categories (type II error at type I error α). */
function randomizedResponseTradeoff(epsilon: number, m: number, alpha: number): number {
  const p = Math.exp(epsilon) / (Math.exp(epsilon) + m - 1);
  const q = 1 / (Math.exp(epsilon) + m - 1);
  if (alpha <= q) return 1 - (p / q) * alpha;
  if (alpha <= 1 - p) return 1 - p - (alpha - q);
  return Math.max(0, (q / p) * (1 - alpha));
}

describe('privacy promises', () => {
  it('clipping: both vectors of a device are within their clip norms, whatever the data; curvature is never negative', () => {
    const random = seededRandom(3);
    const d = 300;
    for (let trial = 0; trial < 50; trial++) {
      const events = Array.from({ length: 1 + Math.floor(random() * 64) }, () => ({
        example: example(random, d, trial % 2 ? 1 : 1e6),
        reward: random() < 0.5 ? 1 : 0,
      }));
      const s = sufficientStatistics(events, d, 2.5, 1.5);
      expect(l2Norm(s.gradient)).toBeLessThanOrEqual(2.5 * (1 + 1e-12));
      expect(l2Norm(s.curvature)).toBeLessThanOrEqual(1.5 * (1 + 1e-12));
      expect(s.curvature.every((x) => x >= 0)).toBe(true);
    }
  });

  it("the server's σ is on the sum, and one device (or one network) moves each sum by at most its clip norm", () => {
    const random = seededRandom(5);
    const d = 20;
    const prior = { dimension: d, clipGradient: 2, clipCurvature: 1 };
    const update = (network: string, scale = 1): PendingUpdate => ({
      id: String(random()),
      model: 'm',
      network,
      receivedAt: 0,
      events: [],
      gradient: Array.from({ length: d }, () => (random() - 0.5) * scale),
      curvature: Array.from({ length: d }, () => random() * scale),
    });
    const honest = Array.from({ length: 40 }, (_, i) => update(`n${i % 30}`));
    const base = perNetworkSums(honest, prior);
    // Add one device: to a new network, to a shared one, or a flood of 600 hostile ones from one network.
    for (const extra of [[update('new', 1e6)], [update('n3', 1e6)], Array.from({ length: 600 }, () => update('attacker', 1e9))]) {
      const next = perNetworkSums([...honest, ...extra], prior);
      const dg = next.gradient.map((x, j) => x - base.gradient[j]);
      const dh = next.curvature.map((x, j) => x - base.curvature[j]);
      expect(l2Norm(dg)).toBeLessThanOrEqual(prior.clipGradient * (1 + 1e-9));
      expect(l2Norm(dh)).toBeLessThanOrEqual(prior.clipCurvature * (1 + 1e-9));
    }
    // σ on the sum: noise multiplier × clip norm (× contributions one device can have in the round).
    const m = mechanism(DEFAULT_PRIVACY);
    const sigma = m.noiseMultiplierGradient * prior.clipGradient;
    const normal = gaussian(seededRandom(9));
    const draws = Array.from({ length: 20_000 }, () => sigma * normal());
    const sd = Math.sqrt(draws.reduce((a, x) => a + x * x, 0) / draws.length);
    expect(sd / sigma).toBeGreaterThan(0.98);
    expect(sd / sigma).toBeLessThan(1.02);
  });

  it('accounting: (ε = 8, δ = 1e-6) re-derived independently by integrating the privacy-loss distribution', () => {
    const m = mechanism(DEFAULT_PRIVACY);
    // One contribution: two releases, gradient (Δ/σ = 1/z_g) and curvature (1/z_h); a window holds contributionsPerWindow.
    const perContribution = [1 / m.noiseMultiplierGradient, 1 / m.noiseMultiplierCurvature];
    const mus = Array.from({ length: DEFAULT_PRIVACY.contributionsPerWindow }, () => perContribution).flat();
    const delta = deltaByIntegration(mus, DEFAULT_PRIVACY.epsilon);
    expect(delta).toBeLessThanOrEqual(1e-6 * 1.02);
    expect(delta).toBeGreaterThan(0.9e-6); // tight: the budget is used, not wasted
    // One more contribution than the window allows would exceed δ.
    expect(deltaByIntegration([...mus, ...perContribution], DEFAULT_PRIVACY.epsilon)).toBeGreaterThan(1.2e-6);
    // The closed form agrees, and the device's ledger unit (ρ = μ²/2) converts back to ε = 8.
    expect(deltaForMu(m.mu, 8)).toBeCloseTo(1e-6, 8);
    expect(epsilonFromRho(DEFAULT_PRIVACY.contributionsPerWindow * m.rhoPerContribution, 1e-6)).toBeCloseTo(8, 6);
    expect(muForEpsilon(8, 1e-6)).toBeCloseTo(1.5315, 3);
    expect(rhoForEpsilon(1, 1e-6)).toBeCloseTo(0.2367 ** 2 / 2, 4);
  });

  it('clip norms come from seed data only: contributors cannot move them', () => {
    const random = seededRandom(11);
    const d = 40;
    const shoppers = (n: number, scale: number) =>
      Array.from({ length: n }, () => [
        Array.from({ length: 5 }, () => ({ example: example(random, d, scale), reward: random() < 0.4 ? 1 : 0 })),
      ]);
    const seedShoppers = shoppers(60, 1);
    const prior = computeUpdatePrior('seed-v', d, seedShoppers);
    // The prior is a function of its arguments (seed shoppers) only; computing it again gives the same numbers.
    expect(computeUpdatePrior('seed-v', d, seedShoppers).clipGradient).toBe(prior.clipGradient);
    // A 90% quantile of the seed's own norms: 10% of seed contributions are clipped.
    const norms = seedShoppers.map(([c]) => sufficientStatistics(c, d, Infinity, Infinity).gradientNorm);
    expect(norms.filter((x) => x > prior.clipGradient).length).toBeGreaterThan(0);
    expect(norms.filter((x) => x > prior.clipGradient).length / norms.length).toBeLessThanOrEqual(0.1 + 1e-9);
  });

  it('k-threshold: per-activity statistics need k distinct batches', () => {
    const e = (activityId: string, reward = 1) => ({ activityId, slot: 0, propensity: 0.5, reward, timeBucket: 0 });
    const batches = [[e('x'), e('x'), e('y')], [e('x', 0)], [e('z')]];
    const stats = activityStats(batches, 2);
    expect(stats.activities).toEqual([{ id: 'x', batches: 2, impressions: 3, rewardRate: 2 / 3 }]);
    expect(stats.suppressedActivities).toBe(2);
  });

  it("segment reports: the charged ρ covers randomized response under the ledger's GDP conversion, tightly", () => {
    // μ-GDP holds when the mechanism's trade-off function lies above G_μ(α) = Φ(Φ⁻¹(1 − α) − μ) everywhere.
    const alphas = Array.from({ length: 199 }, (_, i) => (i + 1) / 200).concat([1e-4, 1e-3, 0.999]);
    for (const epsilon of [0.25, 0.5, 1, 2, 4]) {
      const mu = Math.sqrt(2 * segmentReportRho(epsilon));
      const gap = (mu2: number, m: number) =>
        Math.max(...alphas.map((a) => phi(phiInverse(1 - a) - mu2) - randomizedResponseTradeoff(epsilon, m, a)));
      for (const m of [2, 3, 5, 33]) expect(gap(mu, m), `ε ${epsilon}, m ${m}`).toBeLessThanOrEqual(1e-7);
      // Tight for two categories (one segment): 2% less μ would not cover it.
      expect(gap(0.98 * mu, 2)).toBeGreaterThan(1e-4);
      // The zCDP figure ε²/2 would under-charge: as μ-GDP it is ε, which does not cover binary randomized response.
      expect(gap(epsilon, 2)).toBeGreaterThan(1e-3);
    }
  });

  it('segment reports: at the default ε 0.5 two contributions fit a window (three without); a larger ε turns them off', () => {
    const m = mechanism(DEFAULT_PRIVACY);
    expect(m.segmentEpsilon).toBe(0.5);
    const budget = rhoForEpsilon(DEFAULT_PRIVACY.epsilon, DEFAULT_PRIVACY.delta);
    const withReport = contributionRho(m, true);
    expect(withReport).toBeCloseTo(0.391 + 0.1946, 3);
    expect(withReport).toBeLessThanOrEqual(budget);
    // The device's ledger then admits two contributions per 30-day window instead of three.
    expect(Math.floor(budget / withReport)).toBe(2);
    expect(Math.floor(budget / contributionRho(m, false) + 1e-9)).toBe(DEFAULT_PRIVACY.contributionsPerWindow);
    const tooCostly = mechanism({ ...DEFAULT_PRIVACY, segmentEpsilon: 1.1 });
    expect(tooCostly.segmentEpsilon).toBeNull();
    expect(contributionRho(tooCostly, true)).toBe(m.rhoPerContribution);
    expect(tooCostly.segmentRefusal).toMatch(/VITRINE_SEGMENT_EPSILON 1.1/);
    expect(mechanism({ ...DEFAULT_PRIVACY, segmentEpsilon: 0 })).toMatchObject({ segmentEpsilon: null, segmentRefusal: null });
  });

  it('no identifiers: the wire schema has no field for one, and refuses any unknown key', () => {
    const base = { format: 'vitrine-signals@1', id: 'ab'.repeat(16), model: 'm-1', events: [{ a: 'x', s: 0, p: 0.5, r: 1, t: 0 }] };
    expect(v.safeParse(BatchSchema, base).success).toBe(true);
    const eventEntries = (BatchSchema.entries.events.pipe[0] as unknown as { item: { entries: object } }).item.entries;
    const keys = JSON.stringify(Object.keys(BatchSchema.entries)) + JSON.stringify(Object.keys(eventEntries));
    for (const id of ['user', 'session', 'device', 'cookie', 'ip', 'url', 'agent', 'time', 'ts']) {
      expect(keys.toLowerCase()).not.toContain(`"${id}`);
    }
    for (const extra of [{ userId: 'u' }, { sessionId: 's' }, { deviceId: 'd' }, { url: 'https://shop/p?q=1' }, { ts: Date.now() }]) {
      expect(() => parseBatch({ ...base, ...extra })).toThrow(SignalFormatError);
      expect(() => parseBatch({ ...base, events: [{ ...base.events[0], ...extra }] })).toThrow(SignalFormatError);
    }
    // Time is coarse: a 6-hour bucket, never a timestamp.
    expect(() => parseBatch({ ...base, events: [{ ...base.events[0], t: 493_213 }] })).toThrow(/multiple of 6/);
  });
});
