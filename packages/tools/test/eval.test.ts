// npm run eval on the generated fixture (no ../shared needed): the committed model replayed
// through the SDK's own code, and a clear refusal of a CSV that is not the survey.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const FIXTURE = 'models/test/fixtures/coupons-fixture.csv';
const MODEL = createRequire(import.meta.url).resolve('@vitrine/models/coupons/manifest.json');
const run = (args: string[]) =>
  execFileSync('npx', ['tsx', '--conditions=source', 'packages/tools/src/eval.ts', ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
const lastJson = (out: string) => JSON.parse(out.trim().split('\n').at(-1)!);

describe('npm run eval', () => {
  it('replays respondents through the SDK and prints the JSON summary last', () => {
    const version = JSON.parse(readFileSync(MODEL, 'utf8')).version;
    const out = lastJson(run(['--dataset', 'coupons', '--data', FIXTURE, '--model', MODEL, '--json']));
    expect(out).toMatchObject({ n: 2800, respondents: 200, model: { version, quantization: 'uint8-per-channel' } });
    expect(out.model.bytes).toBeGreaterThan(0);
    for (const k of ['auc', 'logloss', 'auc_after_5']) expect(Number.isFinite(out[k])).toBe(true);
    expect(Math.abs(out.auc - out.float32.auc)).toBeLessThan(0.01);
    // Ranking lists: respondent x scenario; the fixture's counts, fixed by its generator.
    expect(out.ranking).toMatchObject({ lists: 130, skipped_single: 2440, skipped_no_positive: 48, all_positive: 36, k: [1, 3, 5] });
    expect(out.ranking.definition).toMatch(/respondent.*scenario/);
    for (const m of [out.ranking, out.ranking.baselines.random, out.ranking.baselines.prior])
      for (const k of ['1', '3', '5']) {
        expect(m.ndcg[k]).toBeGreaterThan(0);
        expect(m.ndcg[k]).toBeLessThanOrEqual(1);
        expect(m.hit_rate[k]).toBeGreaterThanOrEqual(m.ndcg[k]); // binary relevance: NDCG@k <= hit@k
      }
    expect(out.ranking.ndcg['1']).toBe(out.ranking.hit_rate['1']);
    // The lists that also hold a refusal: the used ones less the all-accepted ones.
    expect(out.ranking.mixed.lists).toBe(130 - 36);
    expect(out.ranking.mixed.ndcg['1']).toBeLessThan(out.ranking.ndcg['1']);
  });

  it('takes the cut-offs from --k and refuses a bad list', () => {
    const out = lastJson(run(['--data', FIXTURE, '--model', MODEL, '--json', '--k', '2,10']));
    expect(out.ranking.k).toEqual([2, 10]);
    expect(Object.keys(out.ranking.ndcg)).toEqual(['2', '10']);
    expect(Object.keys(out.ranking.baselines.random.hit_rate)).toEqual(['2', '10']);
    let message = '';
    try {
      run(['--data', FIXTURE, '--model', MODEL, '--k', '0,x']);
    } catch (e) {
      message = String((e as { stderr?: string }).stderr);
    }
    expect(message).toMatch(/eval: --k must be a comma-separated list of positive integers/);
  });

  it('refuses a CSV without the survey columns, naming them', () => {
    let message = '';
    const bad = join(mkdtempSync(join(tmpdir(), 'vitrine-eval-')), 'bad.csv');
    writeFileSync(bad, 'respondent,coupon\n1,Bar\n');
    try {
      run(['--data', bad, '--model', MODEL]);
    } catch (e) {
      message = String((e as { stderr?: string }).stderr);
    }
    expect(message).toMatch(/eval: .*bad\.csv: missing column\(s\) destination, passanger/);
  });
});
