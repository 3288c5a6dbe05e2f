import type { DBSchema, IDBPObjectStore, IDBPTransaction } from 'idb';
import { applyEvent, type ProfileAggregates, type ProfileEvent } from '@vitrine/core/features';
import { IdbConnection } from '../idb-connection';
import { parseAggregates, parseEvent, rebuildAggregates } from './records';
import { DEFAULT_RETENTION, type ProfileStore, type RetentionPolicy } from './store';

export const DB_NAME = 'vitrine';
export const DB_VERSION = 1;
const DAY_MS = 86_400_000;
const AGGREGATES_KEY = 'aggregates';

interface VitrineDB extends DBSchema {
  // Typed as unknown on read: whatever is stored is validated before use (records.ts).
  events: { key: number; value: ProfileEvent | unknown; indexes: { hour: number } };
  state: { key: string; value: ProfileAggregates | unknown };
}

type ProfileTx = IDBPTransaction<VitrineDB, ('events' | 'state')[], 'readwrite'>;

/**
 * Behaviour profile in IndexedDB. Bounded (retention policy); the connection steps aside for
 * another tab's upgrade and reopens when lost (IdbConnection). Every record is validated on
 * read: a corrupt aggregate record is rebuilt from the event log, corrupt events are deleted,
 * and `onRepair` is told what was repaired.
 */
export class IdbProfileStore implements ProfileStore {
  readonly kind = 'indexeddb' as const;
  private readonly connection = new IdbConnection<VitrineDB>(DB_NAME, DB_VERSION, (database, oldVersion) => {
    if (oldVersion < 1) {
      const events = database.createObjectStore('events', { autoIncrement: true });
      events.createIndex('hour', 'hour');
      database.createObjectStore('state');
    }
  });

  private constructor(
    private readonly retention: RetentionPolicy,
    private readonly now: () => number,
    private readonly onRepair: (reason: string) => void,
  ) {}

  /** Opens (and upgrades) the database; rejects when IndexedDB is missing, blocked or broken. */
  static async open(
    retention: RetentionPolicy = DEFAULT_RETENTION,
    now: () => number = Date.now,
    onRepair: (reason: string) => void = () => undefined,
  ): Promise<IdbProfileStore> {
    const store = new IdbProfileStore(retention, now, onRepair);
    const db = await store.connection.connection();
    // Quota/permission problems often only show on the first write: probe with a read-write tx.
    const tx = db.transaction('state', 'readwrite');
    await Promise.all([tx.store.get(AGGREGATES_KEY), tx.done]);
    return store;
  }

  load(): Promise<ProfileAggregates> {
    return this.connection.run(async (db) => {
      const tx = db.transaction(['events', 'state'], 'readwrite');
      return settle(tx, this.readAggregates(tx));
    });
  }

  append(event: ProfileEvent): Promise<ProfileAggregates> {
    return this.connection.run(async (db) => {
      const tx = db.transaction(['events', 'state'], 'readwrite');
      return settle(
        tx,
        (async () => {
          const next = applyEvent(await this.readAggregates(tx), event);
          await tx.objectStore('state').put(next, AGGREGATES_KEY);
          await tx.objectStore('events').add(event);
          await this.pruneIn(tx.objectStore('events'));
          return next;
        })(),
      );
    });
  }

  /**
   * The stored aggregates, validated; a missing record is an empty profile, a corrupt one is
   * rebuilt from the valid events of the log (and written back in the same transaction).
   */
  private async readAggregates(tx: ProfileTx): Promise<ProfileAggregates> {
    const raw = await tx.objectStore('state').get(AGGREGATES_KEY);
    const parsed = raw === undefined ? null : parseAggregates(raw);
    if (parsed) return parsed;
    const events = await this.validEventsIn(tx.objectStore('events'));
    const rebuilt = rebuildAggregates(events);
    if (raw !== undefined) {
      await tx.objectStore('state').put(rebuilt, AGGREGATES_KEY);
      this.onRepair(`the stored profile was corrupt; rebuilt from the ${events.length} events kept`);
    } else if (events.length) {
      await tx.objectStore('state').put(rebuilt, AGGREGATES_KEY);
      this.onRepair(`the stored profile was missing; rebuilt from the ${events.length} events kept`);
    }
    return rebuilt;
  }

  /** The log's valid events, oldest first; invalid ones are deleted and reported. */
  private async validEventsIn(events: IDBPObjectStore<VitrineDB, ('events' | 'state')[], 'events', 'readwrite'>): Promise<ProfileEvent[]> {
    const valid: ProfileEvent[] = [];
    let dropped = 0;
    let cursor = await events.openCursor();
    while (cursor) {
      const event = parseEvent(cursor.value);
      if (event) valid.push(event);
      else {
        dropped += 1;
        await cursor.delete();
      }
      cursor = await cursor.continue();
    }
    if (dropped) this.onRepair(`${dropped} corrupt profile event${dropped === 1 ? '' : 's'} deleted`);
    return valid;
  }

  private async pruneIn(events: IDBPObjectStore<VitrineDB, ('events' | 'state')[], 'events', 'readwrite'>): Promise<void> {
    const cutoff = this.now() - this.retention.maxAgeDays * DAY_MS;
    let cursor = await events.index('hour').openCursor(IDBKeyRange.upperBound(cutoff, true));
    while (cursor) {
      await cursor.delete();
      cursor = await cursor.continue();
    }
    let excess = (await events.count()) - this.retention.maxEvents;
    if (excess <= 0) return;
    let oldest = await events.openCursor();
    while (oldest && excess > 0) {
      await oldest.delete();
      excess -= 1;
      oldest = await oldest.continue();
    }
  }

  events(): Promise<ProfileEvent[]> {
    return this.connection.run(async (db) => {
      const tx = db.transaction(['events', 'state'], 'readwrite');
      return settle(tx, this.validEventsIn(tx.objectStore('events')));
    });
  }

  clear(): Promise<void> {
    return this.connection.run(async (db) => {
      const tx = db.transaction(['events', 'state'], 'readwrite');
      await Promise.all([tx.objectStore('events').clear(), tx.objectStore('state').clear(), tx.done]);
    });
  }

  close(): void {
    this.connection.close();
  }
}

/**
 * The result of `work` once `tx` has committed. Both are awaited together: a failed request
 * aborts the transaction, and a `tx.done` nobody awaits would reach the page as an unhandled
 * rejection (QuotaExceededError on a full disk).
 */
async function settle<T>(tx: { done: Promise<void> }, work: Promise<T>): Promise<T> {
  const [result] = await Promise.all([work, tx.done]);
  return result;
}
