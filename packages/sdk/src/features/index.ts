export * from './spec';
export { FeatureEncoder } from './encode';
export { fitFeatureSpec, type FitExample } from './fit';
export { readValue, categoryOf, numberOf } from './values';
