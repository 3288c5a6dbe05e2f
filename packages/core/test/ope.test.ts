import { describe, expect, it } from 'vitest';
import { crossFittedRateModel, offPolicyEstimates, type LoggedImpression } from '../src/ope';
import { seededRandom } from '../src/random';

/** Simulated slate logs: 10 items x 2 positions, known click rates, a skewed logging policy. */
function simulate(n: number, seed: number) {
  const random = seededRandom(seed);
  const items = Array.from({ length: 10 }, (_, i) => `i${i}`);
  const ctr = (item: number, pos: number) => (0.02 + 0.01 * item) * (pos === 1 ? 1 : 0.6);
  const logging = items.map((_, i) => (i + 1) / 55); // favours high items
  const target = items.map(() => 0.1); // uniform
  const logs: LoggedImpression[] = [];
  for (let k = 0; k < n; k++) {
    const pos = k % 2 ? 1 : 2;
    let u = random();
    let item = 0;
    while (u > logging[item] && item < 9) {
      u -= logging[item];
      item++;
    }
    logs.push({
      action: items[item],
      position: pos,
      reward: random() < ctr(item, pos) ? 1 : 0,
      propensity: logging[item],
      targetPropensity: target[item],
    });
  }
  const truth = items.reduce((s, _, i) => s + (0.1 * (ctr(i, 1) + ctr(i, 2))) / 2, 0);
  return { logs, truth, items, target };
}

describe('off-policy estimators', () => {
  it('are unbiased and their 95% intervals cover the truth about 95% of the time', () => {
    const covered = { ipw: 0, snipw: 0, dr: 0 };
    const runs = 60;
    for (let s = 0; s < runs; s++) {
      const { logs, truth, items } = simulate(4000, 100 + s);
      const r = offPolicyEstimates(logs, {
        modelFor: crossFittedRateModel(logs),
        target: () => items.map((a): [string, number] => [a, 0.1]),
      });
      for (const k of ['ipw', 'snipw', 'dr'] as const) if (r[k]!.ci[0] <= truth && truth <= r[k]!.ci[1]) covered[k]++;
    }
    for (const k of ['ipw', 'snipw', 'dr'] as const) expect(covered[k] / runs, k).toBeGreaterThan(0.85);
  });

  it('equals the on-policy mean when target = logging, and reports the effective sample size', () => {
    const logs: LoggedImpression[] = [1, 0, 0, 1, 0].map((r) => ({
      action: 'a',
      position: 1,
      reward: r,
      propensity: 0.5,
      targetPropensity: 0.5,
    }));
    const r = offPolicyEstimates(logs);
    expect(r.ipw.value).toBeCloseTo(0.4);
    expect(r.snipw.value).toBeCloseTo(0.4);
    expect(r.effectiveSampleSize).toBeCloseTo(5);
  });

  it('refuses impossible propensities with the index of the bad sample', () => {
    expect(() => offPolicyEstimates([{ action: 'a', position: 1, reward: 1, propensity: 0, targetPropensity: 0.5 }])).toThrow(
      /logs\[0\]\.propensity/,
    );
  });
});
