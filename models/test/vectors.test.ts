// The shared test vectors, checked through the TRAINING code path (examples.ts replay + mlp.ts
// forward pass). e2e/vectors.spec.ts checks the same file through the SDK in a real browser.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { CouponRow } from '../src/datasets/coupons';
import { buildExamples } from '../src/examples';
import { predictMlp, type MlpWeights } from '../src/mlp';
import { readArtifact, type TestVectors } from '../src/vectors';

const MANIFEST = 'models/coupons/manifest.json';
const vectors: TestVectors = JSON.parse(readFileSync('models/coupons/test-vectors.json', 'utf8'));
const { manifest, weights } = readArtifact(MANIFEST);

const mlp: MlpWeights = {
  layers: manifest.architecture.layers.map((l, i) => ({
    kernel: weights.get(`layers.${i}.kernel`)!,
    bias: weights.get(`layers.${i}.bias`)!,
    inputs: manifest.tensors.find((t) => t.name === `layers.${i}.kernel`)!.shape[0],
    units: l.units,
    activation: l.activation as 'relu' | 'sigmoid',
  })),
};

describe('shared test vectors (training code path)', () => {
  it('belong to the published model', () => {
    expect(vectors.modelVersion).toBe(manifest.version);
    expect(vectors.featureFormat).toBe(manifest.featureSpec.format);
    expect(vectors.cases.length).toBeGreaterThanOrEqual(20);
  });

  for (const c of vectors.cases) {
    it(`${c.name}: features and score match`, () => {
      const rows: CouponRow[] = [
        ...c.history.map((h) => ({ activity: h.activity, outcome: h.outcome, context: h.context ?? {} })),
        { activity: c.activity, outcome: 'view' as const, context: c.context },
      ].map((r) => ({ respondent: 'r', activity: r.activity, outcome: r.outcome, context: r.context, user: c.user, label: 0 }));
      const ex = buildExamples(rows, manifest.featureSpec);
      const last = Array.from(ex.x.subarray((ex.n - 1) * ex.d));
      expect(last).toHaveLength(c.features.length);
      last.forEach((v, i) => expect(v, `feature ${i}`).toBeCloseTo(c.features[i], 6));
      expect(predictMlp(mlp, ex.x.subarray((ex.n - 1) * ex.d), 1)[0]).toBeCloseTo(c.score, 6);
    });
  }
});
