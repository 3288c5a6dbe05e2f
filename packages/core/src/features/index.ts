export * from './spec';
export { FeatureEncoder, type FactoredBatch } from './encode';
export { fitFeatureSpec, type FitExample } from './fit';
export { readValue, categoryOf, numberOf, categoryFor } from './values';
export {
  ATTRIBUTE_MAX_LENGTH,
  HOUR_MS,
  RECENT_LIMIT,
  activityAttributes,
  applyEvent,
  coarseHour,
  emptyAggregates,
  own,
  type Counts,
  type ProfileAggregates,
  type ProfileEvent,
} from './profile-aggregates';
