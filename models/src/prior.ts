import { headLayout, computeUpdatePrior, headExamples, type UpdatePrior } from '@vitrine/core/privacy';
import type { FeatureSpec } from '@vitrine/core/features';
import type { ModelManifest, MlpWeights } from '@vitrine/core/artifact';
import type { CouponRow } from './datasets/coupons';
import { buildExamples } from './examples';

/**
 * The update prior of a seed model from its own training rows (see @vitrine/core/privacy
 * prior.ts): each respondent is a seed shopper whose answers, in file order, are split into
 * `contributions` chunks, one per contribution of a window.
 */
export function seedUpdatePrior(rows: CouponRow[], spec: FeatureSpec, weights: MlpWeights, contributions: number): UpdatePrior {
  const manifest = {
    version: 'seed',
    featureSpec: spec,
    architecture: { kind: 'mlp', layers: weights.layers.map((l) => ({ units: l.units, activation: l.activation })) },
  } as unknown as ModelManifest;
  const layout = headLayout(manifest);
  if (!layout) throw new Error('seedUpdatePrior: the model is not a one-hidden-layer ReLU MLP');
  const byName = new Map<string, Float32Array>();
  weights.layers.forEach((l, i) => {
    byName.set(`layers.${i}.kernel`, l.kernel);
    byName.set(`layers.${i}.bias`, l.bias);
  });
  const byRespondent = new Map<string, CouponRow[]>();
  for (const r of rows) byRespondent.set(r.respondent, [...(byRespondent.get(r.respondent) ?? []), r]);
  const shoppers = [...byRespondent.values()].map((own) => {
    const ex = buildExamples(own, spec);
    const examples = headExamples(layout, byName, ex.x, ex.n);
    const chunks: { example: (typeof examples)[number]; reward: number }[][] = Array.from({ length: contributions }, () => []);
    examples.forEach((example, i) => chunks[Math.floor((i * contributions) / ex.n)].push({ example, reward: ex.y[i] }));
    return chunks;
  });
  return computeUpdatePrior('seed', layout.dimension, shoppers);
}
