// npm run simulate on the generated coupon fixture (no ../shared needed): the whole loop runs
// (seed training and prior, shoppers running the SDK against a real server, DP rounds,
// promotion) and the last line is the JSON the issue asks for.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

describe('npm run simulate', () => {
  it('runs the loop on the fixture and prints shares of the central gain with CIs per population and epsilon', () => {
    const out = execFileSync(
      'npx',
      [
        'tsx',
        '--conditions=source',
        'packages/tools/src/simulate.ts',
        '--data',
        'models/test/fixtures/coupons-fixture.csv',
        '--splits',
        '2',
        '--seeds',
        '1',
        '--population',
        'real,200',
        '--epsilon',
        '8,none',
        '--ensemble',
        '1',
        '--min-cohort',
        '20',
        '--workers',
        '1',
        '--json',
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 400_000 },
    );
    const result = JSON.parse(out.trim().split('\n').at(-1)!);
    expect(Object.keys(result)).toEqual(expect.arrayContaining(['seed_auc', 'central_auc', 'eval', 'runs']));
    expect(result.seed_auc).toBeGreaterThan(0.5);
    expect(result.central_auc).toBeGreaterThan(0.5);
    expect(result.eval.respondents).toBeGreaterThan(10);
    expect(result.runs.map((r: { population: string; epsilon: string }) => `${r.population}/${r.epsilon}`).sort()).toEqual([
      '200/8',
      '200/none',
      'real/8',
      'real/none',
    ]);
    for (const run of result.runs) {
      expect(Object.keys(run)).toEqual(
        expect.arrayContaining(['population', 'epsilon', 'share_mean', 'share_ci', 'auc_mean', 'rounds_published', 'promotions_worse']),
      );
      expect(Number.isFinite(run.share_mean)).toBe(true);
      expect(run.share_ci[0]).toBeLessThanOrEqual(run.share_mean);
      expect(run.share_ci[1]).toBeGreaterThanOrEqual(run.share_mean);
    }
    // Without noise every round publishes a candidate, and the loop moves the model.
    const none = result.runs.find((r: { population: string; epsilon: string }) => r.population === '200' && r.epsilon === 'none');
    expect(none.rounds_published).toBeGreaterThanOrEqual(3);
    expect(none.auc_mean).not.toBe(result.seed_auc);
  }, 420_000);
});
