/**
 * On-device personalization for online shops: `createVitrine` loads a verified model and ranks a
 * shop's activities on the shopper's device; see the README's quick start and docs/api.md.
 *
 * @module @vitrine/sdk
 */
export { createVitrine } from './vitrine';
export { VitrineError } from './errors';
export type { Vitrine } from './vitrine';
export type { VitrineErrorCode } from './errors';
export type {
  Activity,
  AdapterInfo,
  Consent,
  BackendName,
  BackendOption,
  BackendSelection,
  Decision,
  Explanation,
  ExplanationGroup,
  ExplanationReason,
  FeatureRecord,
  FeatureValue,
  Outcome,
  Progress,
  RankedItem,
  RankOptions,
  Reason,
  VitrineOptions,
  VitrineStatus,
} from './types';
export type { PrivacyReport } from './signals/stage';
export type { ProfileExport, RetentionPolicy } from './profile/store';
export type { ProfileAggregates, ProfileEvent } from '@vitrine/core/features';
export { version } from './version';
