import { applyEvent, emptyAggregates, type ProfileAggregates, type ProfileEvent } from '@vitrine/core/features';
import type { StorageKind } from '../types';
import { prune } from './retention';
import { DEFAULT_RETENTION, type ProfileStore, type RetentionPolicy } from './store';

/** After a failed write, persisting is tried again on the next event this long later (then twice as long, up to the cap). */
const RETRY_BASE_MS = 5_000;
const RETRY_CAP_MS = 5 * 60_000;

/** What the client is told when persistence fails (`failure` set) or works again (`failure` null). */
export type StorageChange = (failure: string | null, cause?: unknown) => void;

/**
 * A profile store that keeps working when its persistent store fails at runtime (quota
 * exceeded, connection lost for good, storage cleared under the page): the events it could not
 * write are kept in memory and folded into the profile, and on a later event (with backoff)
 * they are written, oldest first. So no event is lost while the page lives, and the profile is
 * persistent again once the fault goes away.
 */
export class ResilientProfileStore implements ProfileStore {
  private current: ProfileAggregates = emptyAggregates();
  /** Events not yet written to the persistent store, oldest first. */
  private unsaved: ProfileEvent[] = [];
  private failure: string | null = null;
  private failures = 0;
  private retryAt = 0;
  /** The write pass under way: concurrent appends share it, so no event is written twice. */
  private writing: Promise<void> | null = null;

  constructor(
    private readonly persistent: ProfileStore,
    private readonly onChange: StorageChange,
    private readonly now: () => number = Date.now,
    private readonly retention: RetentionPolicy = DEFAULT_RETENTION,
  ) {}

  get kind(): StorageKind {
    return this.failure ? 'memory' : this.persistent.kind;
  }

  async load(): Promise<ProfileAggregates> {
    try {
      const stored = await this.persistent.load();
      this.current = this.unsaved.reduce(applyEvent, stored);
    } catch (err) {
      this.fail(err);
    }
    return this.current;
  }

  async append(event: ProfileEvent): Promise<ProfileAggregates> {
    this.unsaved.push(event);
    this.current = applyEvent(this.current, event);
    if (!this.failure || this.now() >= this.retryAt) await this.writeUnsaved();
    return this.current;
  }

  /** One write pass at a time; an append during a pass waits for it and then runs its own (its event may be after the pass's last). */
  private async writeUnsaved(): Promise<void> {
    while (this.writing) await this.writing;
    if (!this.unsaved.length) return;
    this.writing = this.writePass().finally(() => {
      this.writing = null;
    });
    await this.writing;
  }

  /**
   * Writes the unsaved events in order; stops at the first failure (they stay, in order, for the
   * next try). After a recovery the profile is the store's (it may hold other tabs' events too)
   * plus whatever was appended during the pass.
   */
  private async writePass(): Promise<void> {
    const recovering = this.failure !== null;
    let stored: ProfileAggregates | undefined;
    while (this.unsaved.length) {
      const event = this.unsaved[0];
      try {
        stored = await this.persistent.append(event);
      } catch (err) {
        this.fail(err);
        return;
      }
      // Removed by identity: only this pass writes, and appends only push at the end.
      if (this.unsaved[0] === event) this.unsaved.shift();
    }
    if (recovering) {
      if (stored) this.current = stored;
      this.failure = null;
      this.failures = 0;
      this.onChange(null);
    }
  }

  private fail(err: unknown): void {
    const detail = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    this.retryAt = this.now() + Math.min(RETRY_CAP_MS, RETRY_BASE_MS * 2 ** this.failures++);
    const first = !this.failure;
    this.failure = `profile storage failed (${detail}); kept in memory and written when storage works again`;
    if (first) this.onChange(this.failure, err);
  }

  async events(): Promise<ProfileEvent[]> {
    let stored: ProfileEvent[] = [];
    try {
      stored = await this.persistent.events();
    } catch (err) {
      this.fail(err);
    }
    return prune([...stored, ...this.unsaved], this.retention, this.now());
  }

  /** Empties memory, then the persistent store (whose failure is the caller's: forget() deletes the database anyway). */
  async clear(): Promise<void> {
    this.unsaved = [];
    this.current = emptyAggregates();
    await this.persistent.clear();
  }

  /** Whether a persistent store backs this one (even while it fails): what forget() must delete. */
  get persistentKind(): StorageKind {
    return this.persistent.kind;
  }

  close(): void {
    this.persistent.close();
  }
}
