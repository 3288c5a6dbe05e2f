// npm run simulate on the generated coupon fixture (no ../shared needed): the whole loop runs
// (seed training, shoppers running the SDK against a real server, DP rounds, promotion) and the
// last line is the JSON the issue asks for.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

describe('npm run simulate', () => {
  it('runs the loop on the fixture and prints seed, central, per-round and final AUCs', () => {
    const out = execFileSync(
      'npx',
      [
        'tsx',
        '--conditions=source',
        'packages/tools/src/simulate.ts',
        '--data',
        'models/test/fixtures/coupons-fixture.csv',
        '--rounds',
        '2',
        '--epsilons',
        '8,none',
        '--ensemble',
        '1',
        '--min-cohort',
        '20',
        '--json',
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 240_000 },
    );
    const result = JSON.parse(out.trim().split('\n').at(-1)!);
    expect(Object.keys(result)).toEqual(expect.arrayContaining(['seed_auc', 'central_auc', 'rounds', 'final']));
    expect(result.seed_auc).toBeGreaterThan(0.5);
    expect(result.central_auc).toBeGreaterThan(0.5);
    expect(Object.keys(result.final).sort()).toEqual(['8', 'none']);
    // Without noise every round publishes a candidate and the next one promotes it.
    const none = result.rounds.filter((r: { epsilon: string }) => r.epsilon === 'none');
    expect(none[0].cohort).toBeGreaterThanOrEqual(20);
    expect(none.some((r: { promoted: boolean }) => r.promoted)).toBe(true);
    expect(none.at(-1).current).not.toBe(none[0].current);
    // Every shopper's accountant stays within the published budget.
    for (const r of result.rounds) if (r.spent_epsilon !== null) expect(r.spent_epsilon).toBeLessThanOrEqual(8 + 1e-9);
  }, 300_000);
});
