// IPW, SNIPW and DR against the Open Bandit Pipeline's definitions (st-tech/zr-obp,
// obp/ope/estimators.py), computed by hand the way OBP does on a small fixture:
//   iw = action_dist[i, a_i, k_i] / pscore_i
//   IPW:   mean(reward * iw)
//   SNIPW: mean(reward * iw / mean(iw))
//   DR:    mean(np.average(q_hat[i, :, k_i], weights=action_dist[i, :, k_i]) + iw * (reward - q_hat[i, a_i, k_i]))
// and the weight diagnostics (ESS, the heaviest row, clipping, bootstrap, [0, 1] intervals).
import { describe, expect, it } from 'vitest';
import { clippedSensitivity, offPolicyEstimates, percentileBootstrap, weightDiagnostics, type LoggedImpression } from '../src/ope';

const actions = ['a', 'b', 'c'];
// action_dist[a][k]: evaluation policy, sums to 1 over actions at each position.
const pi: Record<string, number[]> = { a: [0.5, 0.2], b: [0.3, 0.3], c: [0.2, 0.5] };
// q_hat[a][k]: reward model.
const q: Record<string, number[]> = { a: [0.1, 0.05], b: [0.3, 0.2], c: [0.02, 0.4] };
const rows: [action: string, position: number, reward: number, pscore: number][] = [
  ['a', 0, 1, 0.25],
  ['b', 0, 0, 0.5],
  ['c', 1, 1, 0.1],
  ['a', 1, 0, 0.4],
  ['b', 1, 1, 0.3],
  ['c', 0, 0, 0.05],
  ['a', 0, 0, 0.6],
];
const logs: LoggedImpression[] = rows.map(([action, position, reward, propensity]) => ({
  action,
  position,
  reward,
  propensity,
  targetPropensity: pi[action][position],
}));

describe('OPE formulas agree with the Open Bandit Pipeline', () => {
  const n = rows.length;
  const iw = rows.map(([a, k, , p]) => pi[a][k] / p);
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  const res = offPolicyEstimates(logs, {
    modelFor: () => (a, k) => q[a][k],
    target: (k) => actions.map((a): [string, number] => [a, pi[a][k]]),
  });

  it('IPW: mean(reward * iw)', () => {
    const obp = mean(rows.map(([, , r], i) => r * iw[i]));
    // By hand: 1 * 0.5/0.25 + 1 * 0.5/0.1 + 1 * 0.3/0.3 = 2 + 5 + 1 = 8, over 7 rows.
    expect(obp).toBeCloseTo(8 / 7, 14);
    expect(Math.abs(res.ipw.value - obp)).toBeLessThan(1e-12);
  });

  it('SNIPW: mean(reward * iw / mean(iw)), the self-normalised ratio', () => {
    const meanIw = mean(iw);
    const obp = mean(rows.map(([, , r], i) => (r * iw[i]) / meanIw));
    const sumIw = 2 + 0.6 + 5 + 0.5 + 1 + 4 + 0.5 / 0.6;
    expect(Math.abs(obp - 8 / sumIw)).toBeLessThan(1e-12);
    expect(Math.abs(res.snipw.value - obp)).toBeLessThan(1e-12);
  });

  it('DR: reward-model baseline under the evaluation policy plus the weighted residual', () => {
    const obp = mean(
      rows.map(([a, k, r], i) => {
        // np.average(q_hat[i, :, k], weights=action_dist[i, :, k]) normalises by the weights' sum.
        const num = actions.reduce((s, b) => s + pi[b][k] * q[b][k], 0);
        const den = actions.reduce((s, b) => s + pi[b][k], 0);
        return num / den + iw[i] * (r - q[a][k]);
      }),
    );
    expect(res.dr).toBeDefined();
    expect(Math.abs(res.dr!.value - obp)).toBeLessThan(1e-12);
  });

  it('ESS = (Σw)² / Σw² and the heaviest row', () => {
    const ess = iw.reduce((s, w) => s + w, 0) ** 2 / iw.reduce((s, w) => s + w * w, 0);
    expect(Math.abs(res.effectiveSampleSize - ess)).toBeLessThan(1e-12);
    expect(res.maxWeight).toBe(5);
    expect(res.diagnostics.maxWeightIndex).toBe(2);
    expect(res.diagnostics.n).toBe(n);
  });
});

describe('degenerate weights', () => {
  // 1,000 rows with weight ≈ 1 and one row with propensity 1e-6 (as in the campaign).
  const many: LoggedImpression[] = Array.from({ length: 1000 }, (_, i) => ({
    action: `x${i % 10}`,
    position: 0,
    reward: i % 50 === 0 ? 1 : 0,
    propensity: 0.1,
    targetPropensity: 0.1,
  }));
  many.push({ action: 'rare', position: 0, reward: 1, propensity: 1e-6, targetPropensity: 0.01 });

  it('warns, names the row, and switches to a bootstrap interval inside [0, 1]', () => {
    const res = offPolicyEstimates(many, undefined, { describeRow: (i) => `row ${i} (item ${many[i].action})` });
    const d = res.diagnostics;
    expect(d.degenerate).toBe(true);
    expect(d.maxWeightIndex).toBe(1000);
    expect(d.maxWeightShare).toBeCloseTo(10_000 / 11_000, 12);
    expect(d.effectiveSampleSize).toBeLessThan(0.01 * 1001);
    expect(d.warnings.join('\n')).toMatch(/effective sample size/);
    expect(d.warnings.join('\n')).toMatch(/row 1000 \(item rare\) holds 90\.9% of the total weight/);
    for (const e of [res.ipw, res.snipw]) {
      expect(e.interval).toBe('bootstrap');
      expect(e.ci[0]).toBeGreaterThanOrEqual(0);
      expect(e.ci[1]).toBeLessThanOrEqual(1);
      expect(e.ci[0]).toBeLessThanOrEqual(e.ci[1]);
    }
    // Same seed, same interval.
    expect(offPolicyEstimates(many).ipw.ci).toEqual(res.ipw.ci);
  });

  it('keeps the normal interval when the weights are fine, clamped to [0, 1]', () => {
    const res = offPolicyEstimates(many.slice(0, 1000));
    expect(res.diagnostics.warnings).toEqual([]);
    expect(res.ipw.interval).toBe('normal');
    expect(res.ipw.ci[0]).toBeGreaterThanOrEqual(0);
  });

  it('clipped sensitivity: weights capped at k × mean weight', () => {
    const w = [1, 1, 1, 97];
    const r = [0, 1, 0, 1];
    const [c10, c100] = clippedSensitivity(w, r, [1, 100]);
    // mean weight 25: cap 25 clips the last row only.
    expect(c10).toEqual({ multiple: 1, cap: 25, clippedRows: 1, ipw: 26 / 4, snipw: 26 / 28 });
    expect(c100).toEqual({ multiple: 100, cap: 2500, clippedRows: 0, ipw: 98 / 4, snipw: 98 / 100 });
  });

  it('weightDiagnostics on healthy weights has no warnings', () => {
    expect(weightDiagnostics(Array.from({ length: 100 }, () => 1)).warnings).toEqual([]);
  });

  it('percentile bootstrap of a mean covers it and is bounded in resamples', () => {
    const xs = Array.from({ length: 200 }, (_, i) => (i % 4 === 0 ? 1 : 0));
    const [lo, hi] = percentileBootstrap(xs.length, (idx) => {
      let s = 0;
      for (const i of idx) s += xs[i];
      return s / idx.length;
    });
    expect(lo).toBeLessThan(0.25);
    expect(hi).toBeGreaterThan(0.25);
    expect(() => percentileBootstrap(10, () => 0, { resamples: 1e9 })).toThrow(/resamples/);
  });
});
