// The training pipeline end to end on the small generated fixture (fast; no ../shared needed):
// train -> artifact -> test vectors, and reproducibility by seed (eval through the SDK: packages/tools).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseManifest } from '@vitrine/core/artifact';

const FIXTURE = 'models/test/fixtures/coupons-fixture.csv';
const run = (script: string, args: string[]) =>
  execFileSync('npx', ['tsx', '--conditions=source', `models/src/${script}.ts`, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
const lastJson = (out: string) => JSON.parse(out.trim().split('\n').at(-1)!);
const train = (out: string, extra: string[] = []) =>
  lastJson(
    run('train', [
      '--dataset',
      'coupons',
      '--data',
      FIXTURE,
      '--out',
      out,
      '--cv',
      '2',
      '--epochs',
      '10',
      '--hidden',
      '8',
      '--ensemble',
      '2',
      '--min-count',
      '2',
      '--json',
      ...extra,
    ]),
  );

/** The last line `npm run train -- --json` prints (the fields these tests read). */
interface TrainResult {
  rows: number;
  respondents: number;
  version: string;
  cv: { auc: number; auc_float32: number; per_fold: unknown[] };
}

describe('training pipeline on the generated fixture', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vitrine-train-'));
  let result: TrainResult;

  it('trains, cross-validates by respondent and publishes a verifiable artifact', () => {
    result = train(dir);
    expect(result.rows).toBe(2800);
    expect(result.respondents).toBe(200);
    expect(result.cv.per_fold).toHaveLength(2);
    expect(result.cv.auc).toBeGreaterThan(0.6); // the fixture has planted signal
    expect(Math.abs(result.cv.auc - result.cv.auc_float32)).toBeLessThan(0.01);
    const manifest = parseManifest(JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')));
    expect(manifest.version).toBe(result.version);
    expect(manifest.architecture.layers[0].units).toBe(16); // 2 members x 8 hidden, merged
    expect(manifest.training!.dataSha256).toBe(createHash('sha256').update(readFileSync(FIXTURE)).digest('hex'));
    const bin = readFileSync(join(dir, manifest.files[0].path));
    expect(createHash('sha256').update(bin).digest('hex')).toBe(manifest.files[0].sha256);
    expect(existsSync(join(dir, result.version, 'manifest.float32.json'))).toBe(true);
    expect(JSON.parse(readFileSync(join(dir, 'test-vectors.json'), 'utf8')).modelVersion).toBe(result.version);
  });

  it('is reproducible: same data and seed give the same version', () => {
    const again = train(mkdtempSync(join(tmpdir(), 'vitrine-train-')));
    expect(again.version).toBe(result.version);
    expect(again.cv.auc).toBe(result.cv.auc);
  });
});
