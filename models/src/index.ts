/** The training pipeline as a library, for the tools that drive it (simulation, evaluation). */
export { writeArtifact, writeUpdatePrior, sha256, type ArtifactInput } from './artifact';
export { seedUpdatePrior } from './prior';
export { loadCoupons, COUPON_CATALOG, type CouponRow } from './datasets/coupons';
export { fitEnsemble } from './ensemble';
export { buildExamples, respondentFolds } from './examples';
export { auc, logloss, ndcgAtK, hitAtK, rankingMetrics, type RankingList, type RankingSummary } from './metrics';
export { DEFAULT_MLP, initBackend, predictMlp, trainMlp, type MlpConfig, type MlpWeights } from './mlp';
