export {
  ConditionSchema,
  MatchSchema,
  MAX_RULES,
  MAX_SEGMENTS,
  POLICY_FORMAT,
  PolicyDocumentSchema,
  RulesSchema,
  SegmentSchema,
  SegmentsSchema,
  type Condition,
  type Match,
  type PolicyDocument,
  type Rules,
  type Segment,
} from './document';
export { lastEventHour, primarySegmentIndex, segmentMemberships, type SegmentInputs } from './segments';
export {
  debiasCounts,
  normalQuantile,
  randomizeCategory,
  reportRho,
  responseProbabilities,
  type ResponseProbabilities,
} from './randomized-response';
