// npm run eval on the real survey data in ../shared/data. Skipped, with a message, when it is absent.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

const COUPONS = '../shared/data/coupons/coupons-train.csv';
const present = existsSync(COUPONS);
if (!present)
  console.warn(`eval-real-data.test: ${COUPONS} not found; skipping the SDK replay on real data (it needs ../shared beside the checkout)`);

const manifest = JSON.parse(readFileSync(createRequire(import.meta.url).resolve('@vitrine/models/coupons/manifest.json'), 'utf8'));
// The cross-validated level the training test holds the committed model to (models/test/real-data.test.ts).
const CV_AUC_TARGET = 0.83;

const run = (script: string, args: string[]) => {
  const out = execFileSync('npx', ['tsx', '--conditions=source', `packages/tools/src/${script}.ts`, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 1 << 24,
  });
  return JSON.parse(out.trim().split('\n').at(-1)!);
};

describe.skipIf(!present)('committed coupons model replayed through the SDK', () => {
  it('eval replays the file through the SDK and reports the quantized and float32 figures', () => {
    const res = run('eval', ['--dataset', 'coupons', '--data', COUPONS, '--json']);
    expect(res).toMatchObject({ n: 10234, respondents: 474, model: { version: manifest.version, quantization: 'uint8-per-channel' } });
    expect(res.model.bytes).toBeLessThanOrEqual(64 * 1024);
    expect(Math.abs(res.auc - res.float32.auc)).toBeLessThanOrEqual(0.002);
    expect(res.auc).toBeGreaterThan(CV_AUC_TARGET); // in-sample, so only a sanity floor
    // Ranking lists (respondent x scenario): counts fixed by the file; the model must order them
    // better than a random order and than the (in-sample) population prior.
    expect(res.ranking).toMatchObject({ lists: 1591, skipped_single: 5226, skipped_no_positive: 328, all_positive: 581, k: [1, 3, 5] });
    for (const k of ['1', '3', '5']) {
      expect(res.ranking.ndcg[k]).toBeGreaterThan(res.ranking.baselines.prior.ndcg[k]);
      expect(res.ranking.baselines.prior.ndcg[k]).toBeGreaterThan(res.ranking.baselines.random.ndcg[k]);
      expect(res.ranking.mixed.ndcg[k]).toBeGreaterThan(res.ranking.mixed.baselines.prior.ndcg[k]);
    }
    expect(res.ranking.mixed.lists).toBe(1591 - 581);
  }, 300_000);
});
