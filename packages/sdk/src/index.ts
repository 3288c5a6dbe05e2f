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
