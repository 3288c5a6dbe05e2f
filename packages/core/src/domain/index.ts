export type { Activity, FeatureRecord, FeatureValue } from './activity';
export { OUTCOMES, POSITIVE_OUTCOMES, REWARDS, isPositive, type Outcome } from './outcomes';
