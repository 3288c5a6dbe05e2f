import { fitFeatureSpec, type FeatureSpec } from '@vitrine/core/features';
import { COUPON_CROSSES, COUPON_DECLARATIONS, type CouponRow } from './datasets/coupons';
import { buildExamples } from './examples';
import { mergeEnsemble, trainMlp, type MlpConfig, type MlpWeights } from './mlp';

export interface EnsembleOptions {
  cfg: MlpConfig;
  members: number;
  crosses: boolean;
  profile: boolean;
  minCount: number;
  /** Rows each member trains on (bagging); default: all rows. */
  rowsFor?: (member: number) => CouponRow[];
  onEpoch?: (member: number, epoch: number, loss: number) => void;
}

/** Fits the feature spec on `train` and a seed ensemble of MLPs merged into one network. */
export async function fitEnsemble(train: CouponRow[], o: EnsembleOptions): Promise<{ spec: FeatureSpec; weights: MlpWeights }> {
  const decls = o.crosses ? [...COUPON_DECLARATIONS, ...COUPON_CROSSES] : COUPON_DECLARATIONS;
  const spec = fitFeatureSpec('coupons', decls, train, { minCount: o.minCount, profile: o.profile });
  const all = buildExamples(train, spec);
  const trained: MlpWeights[] = [];
  for (let m = 0; m < o.members; m++) {
    const ex = o.rowsFor ? buildExamples(o.rowsFor(m), spec) : all;
    trained.push(
      await trainMlp(ex.x, ex.y, ex.n, ex.d, { ...o.cfg, seed: o.cfg.seed + 1000 * m }, (epoch, loss) => o.onEpoch?.(m, epoch, loss)),
    );
  }
  return { spec, weights: mergeEnsemble(trained) };
}
