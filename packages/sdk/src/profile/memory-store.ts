import { applyEvent, emptyAggregates, type ProfileAggregates, type ProfileEvent } from '@vitrine/core/features';
import { DEFAULT_RETENTION, type ProfileStore, type RetentionPolicy } from './store';
import { prune } from './retention';

export class MemoryProfileStore implements ProfileStore {
  readonly kind = 'memory' as const;
  private aggregates = emptyAggregates();
  private log: ProfileEvent[] = [];

  constructor(
    private readonly retention: RetentionPolicy = DEFAULT_RETENTION,
    private readonly now: () => number = Date.now,
  ) {}

  async load(): Promise<ProfileAggregates> {
    return this.aggregates;
  }

  async append(event: ProfileEvent): Promise<ProfileAggregates> {
    this.aggregates = applyEvent(this.aggregates, event);
    this.log = prune([...this.log, event], this.retention, this.now());
    return this.aggregates;
  }

  async events(): Promise<ProfileEvent[]> {
    return [...this.log];
  }

  async clear(): Promise<void> {
    this.aggregates = emptyAggregates();
    this.log = [];
  }

  close(): void {}
}
