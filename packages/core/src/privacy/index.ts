export { deltaForMu, epsilonFromRho, gaussianRho, muForEpsilon, noiseMultiplierFor, rhoForEpsilon } from './accounting';
export { gaussian, seededUniform } from './noise';
export {
  UPDATE_METHOD,
  clipInPlace,
  foldHead,
  headExamples,
  headLayout,
  l2Norm,
  sufficientStatistics,
  supportsUpdates,
  unfoldHead,
  updateDimension,
  type HeadExample,
  type HeadLayout,
  type SufficientStatistics,
} from './update';
export {
  DEFAULT_CONTRIBUTIONS_PER_WINDOW,
  UPDATE_PRIOR_FORMAT,
  UpdatePriorSchema,
  computeUpdatePrior,
  type UpdatePrior,
  type UpdatePriorFile,
} from './prior';
