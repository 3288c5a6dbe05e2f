import type { FeatureRecord, StorageKind } from '../types';
import type { ProfileAggregates, ProfileEvent } from '@vitrine/core/features';

/** Everything stored about the shopper, as returned by `exportProfile()`. */
export interface ProfileExport {
  /** 'none': consent 'none', nothing is kept (events and aggregates are empty). */
  storage: StorageKind | 'none';
  schemaVersion: number;
  user: FeatureRecord;
  aggregates: ProfileAggregates;
  events: ProfileEvent[];
  retention: RetentionPolicy;
}

export interface RetentionPolicy {
  /** Newest events kept. */
  maxEvents: number;
  /** Events older than this are pruned (days). */
  maxAgeDays: number;
}

export const DEFAULT_RETENTION: RetentionPolicy = { maxEvents: 500, maxAgeDays: 90 };

/** Where the behaviour profile lives. One IndexedDB implementation, one in memory. */
export interface ProfileStore {
  readonly kind: StorageKind;
  load(): Promise<ProfileAggregates>;
  /** Persists the event and returns the updated aggregates. */
  append(event: ProfileEvent): Promise<ProfileAggregates>;
  events(): Promise<ProfileEvent[]>;
  clear(): Promise<void>;
  close(): void;
}
