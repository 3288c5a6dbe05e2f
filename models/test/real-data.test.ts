// Quality claims on the real data in ../shared/data. Skipped, with a message, when it is absent.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const COUPONS = '../shared/data/coupons/coupons-train.csv';
const OBD = '../shared/data/obd';
const present = existsSync(COUPONS) && existsSync(`${OBD}/bts/men.csv`);
if (!present)
  console.warn(
    `real-data.test: ${COUPONS} or ${OBD} not found; skipping the real-data quality checks (they need ../shared beside the checkout)`,
  );

const run = (script: string, args: string[]) => {
  const out = execFileSync('npx', ['tsx', '--conditions=source', `models/src/${script}.ts`, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 1 << 24,
  });
  return JSON.parse(out.trim().split('\n').at(-1)!);
};

const manifest = JSON.parse(readFileSync('models/coupons/manifest.json', 'utf8'));
const weightsBytes = statSync(`models/coupons/${manifest.files[0].path}`).size;

describe.skipIf(!present)('committed coupons model on the real survey data', () => {
  it('was trained on this exact file and fits the 64 KB download budget', () => {
    expect(createHash('sha256').update(readFileSync(COUPONS)).digest('hex')).toBe(manifest.training.dataSha256);
    expect(statSync('models/coupons/manifest.json').size + weightsBytes).toBeLessThanOrEqual(64 * 1024);
  });

  // Issue #3's target. The committed model reaches 0.8302: the margin is smaller than the
  // fold-to-fold spread (models/README.md), so a change that loses even a little fails here.
  const CV_AUC_TARGET = 0.83;

  it('reaches AUC >= 0.83 in 5-fold CV grouped by respondent, with quantization loss <= 0.002, reproducibly', () => {
    const c = manifest.training.config;
    const t = manifest.training;
    const res = run('train', [
      '--dataset',
      'coupons',
      '--data',
      COUPONS,
      '--no-publish',
      '--json',
      '--cv',
      '5',
      '--hidden',
      c.hidden.join(',') || '0',
      '--epochs',
      String(c.epochs),
      '--lr',
      String(c.learningRate),
      '--l2',
      String(c.l2),
      '--seed',
      String(c.seed),
      '--ensemble',
      String(t.ensemble),
      '--crosses',
      String(t.crosses),
      '--min-count',
      String(t.minCount),
    ]);
    expect(res.cv.per_fold).toHaveLength(5);
    expect(res.cv.auc).toBeGreaterThanOrEqual(CV_AUC_TARGET);
    for (const f of res.cv.per_fold) expect(Math.abs(f.auc - f.auc_float32)).toBeLessThanOrEqual(0.002);
    // Reproducible: the same command gives the CV recorded in the manifest.
    expect(res.cv.auc).toBeCloseTo(manifest.metrics.cv.auc, 4);
  }, 900_000);

  it("ope: estimates of each policy from the other policy's logs agree with what was observed", () => {
    const res = run('ope-cli', ['--obd', OBD, '--campaign', 'men', '--json']);
    expect(res.observed.random).toBeCloseTo(0.0046, 4);
    for (const target of ['random', 'bts'] as const) {
      const obsCi = res.observed_ci[target];
      for (const k of ['ipw', 'snipw', 'dr']) {
        const e = res.estimates[target][k];
        expect(e.ci[0]).toBeLessThan(e.value);
        expect(e.value).toBeLessThan(e.ci[1]);
        // The estimate's interval overlaps the observed rate's interval (about 50 clicks each: wide).
        expect(e.ci[0] <= obsCi[1] && obsCi[0] <= e.ci[1], `${target}/${k}`).toBe(true);
      }
    }
  }, 120_000);
});
