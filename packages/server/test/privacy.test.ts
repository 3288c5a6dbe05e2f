/**
 * One test per promise of docs/privacy.md: the numbers a privacy reviewer reads there are the
 * ones these tests check.
 */
import { describe, expect, it } from 'vitest';
import * as v from 'valibot';
import { clippedNoisedGradient, epsilonFromRho, gaussian, gaussianRho, noiseMultiplierFor, rhoForEpsilon } from '@vitrine/core/privacy';
import { BatchSchema, parseWireBatch as parseBatch, SignalFormatError } from '@vitrine/core/protocol';
import { clipL2, trimCount, trimmedMean } from '../src/rounds/robust';
import { activityStats } from '../src/rounds/activity-stats';
import { DEFAULT_PRIVACY } from '../src/config';
import { mechanism } from '../src/mechanism';

function seeded(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const H = 80;
const weights = (random: () => number) =>
  new Map([
    ['layers.0.bias', Float32Array.from({ length: H }, () => random() - 0.5)],
    ['layers.1.kernel', Float32Array.from({ length: H }, () => (random() - 0.5) * 4)],
    ['layers.1.bias', Float32Array.of(0.3)],
  ]);

describe('privacy promises', () => {
  it('clipping: a device update is at most clipNorm in L2 before noise, whatever the data', () => {
    const random = seeded(1);
    for (let trial = 0; trial < 200; trial++) {
      const scale = 10 ** (random() * 6 - 2); // from tiny to huge activations
      const examples = Array.from({ length: 1 + Math.floor(random() * 20) }, () => ({
        z: Float32Array.from({ length: H }, () => (random() - 0.3) * scale),
        y: random() < 0.5 ? 0 : 1,
      }));
      const { vector, norm } = clippedNoisedGradient(weights(random), examples, 1, 0, () => 0);
      expect(Math.hypot(...vector)).toBeLessThanOrEqual(1 + 1e-9);
      if (norm <= 1) expect(Math.hypot(...vector)).toBeCloseTo(norm, 9);
    }
  });

  it('local noise: each coordinate gets N(0, localNoiseStd^2) on top of the clipped update', () => {
    const random = seeded(2);
    const std = mechanism(DEFAULT_PRIVACY).localNoiseStd;
    const normal = gaussian(random);
    const examples = [{ z: new Float32Array(H), y: 1 }];
    const clean = clippedNoisedGradient(weights(seeded(3)), examples, 1, 0, normal).vector;
    const samples: number[] = [];
    for (let i = 0; i < 400; i++) {
      const noisy = clippedNoisedGradient(weights(seeded(3)), examples, 1, std, normal).vector;
      noisy.forEach((x, j) => samples.push(x - clean[j]));
    }
    const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
    const sd = Math.sqrt(samples.reduce((a, b) => a + (b - mean) ** 2, 0) / samples.length);
    expect(Math.abs(mean)).toBeLessThan(0.01 * std * 10);
    expect(sd / std).toBeGreaterThan(0.98);
    expect(sd / std).toBeLessThan(1.02);
  });

  it('robust mean: changing one device moves the trimmed mean by at most |change| / (n - 2k)', () => {
    const random = seeded(4);
    for (let trial = 0; trial < 300; trial++) {
      const n = 5 + Math.floor(random() * 60);
      const d = 1 + Math.floor(random() * 12);
      const k = trimCount(n, 0.1);
      const vectors = Array.from(
        { length: n },
        () =>
          clipL2(
            Array.from({ length: d }, () => (random() - 0.5) * 6),
            1,
          ).clipped,
      );
      const i = Math.floor(random() * n);
      const replaced = vectors.slice();
      replaced[i] = clipL2(
        Array.from({ length: d }, () => (random() - 0.5) * 50),
        1,
      ).clipped;
      const a = trimmedMean(vectors, k);
      const b = trimmedMean(replaced, k);
      const moved = Math.hypot(...a.map((x, j) => x - b[j]));
      const change = Math.hypot(...vectors[i].map((x, j) => x - replaced[i][j]));
      expect(moved).toBeLessThanOrEqual(change / (n - 2 * k) + 1e-12);
      expect(change).toBeLessThanOrEqual(2 + 1e-12); // both inside the clip ball: the 2C of the sensitivity
    }
  });

  it('robust mean: a poisoned update (norm 1e6) is bounded by the norm bound and trimmed away', () => {
    const honest = Array.from({ length: 49 }, (_, i) => Float64Array.from([0.1 + 0.001 * i, -0.1]));
    const attack = clipL2([1e6, 1e6], 1).clipped;
    const m = trimmedMean([...honest, attack], trimCount(50, 0.1));
    expect(m[0]).toBeCloseTo(0.124, 2);
    expect(m[1]).toBeCloseTo(-0.1, 9);
  });

  it('noise calibration: a device joining every round of a window stays within the published budget', () => {
    for (const epsilon of [1, 4, 8]) {
      for (const count of [1, 8, 30]) {
        const z = noiseMultiplierFor(epsilon, 1e-6, count);
        // One round: Gaussian mechanism with sigma = z * sensitivity, i.e. rho = 1 / (2 z^2).
        const rho = gaussianRho(1, z);
        expect(epsilonFromRho(count * rho, 1e-6)).toBeCloseTo(epsilon, 9);
        expect(epsilonFromRho((count + 1) * rho, 1e-6)).toBeGreaterThan(epsilon);
      }
    }
    expect(rhoForEpsilon(8, 1e-6)).toBeCloseTo(0.9097, 3);
    const m = mechanism(DEFAULT_PRIVACY);
    expect(m.noiseMultiplier).toBeCloseTo(4.06, 2);
    expect(m.minHoursBetween).toBe(24);
  });

  it('k-threshold: per-activity statistics need k distinct batches', () => {
    const e = (activityId: string, reward = 1) => ({ activityId, slot: 0, propensity: 0.5, reward, timeBucket: 0 });
    const batches = [[e('x'), e('x'), e('y')], [e('x', 0)], [e('z')]];
    const stats = activityStats(batches, 2);
    expect(stats.activities).toEqual([{ id: 'x', batches: 2, impressions: 3, rewardRate: 2 / 3 }]);
    expect(stats.suppressedActivities).toBe(2);
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
