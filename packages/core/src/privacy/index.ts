export { epsilonFromRho, gaussianRho, noiseMultiplierFor, rhoForEpsilon } from './zcdp';
export { gaussian, seededUniform } from './noise';
export { TRAINABLE_TENSORS, clippedNoisedGradient, preActivations, supportsUpdates, updateDimension, type Example } from './update';
