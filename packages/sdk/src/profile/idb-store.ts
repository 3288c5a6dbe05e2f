import { openDB, type DBSchema, type IDBPDatabase, type IDBPObjectStore } from 'idb';
import { applyEvent, emptyAggregates, type ProfileAggregates, type ProfileEvent } from '@vitrine/core/features';
import { DEFAULT_RETENTION, type ProfileStore, type RetentionPolicy } from './store';

export const DB_NAME = 'vitrine';
export const DB_VERSION = 1;
const DAY_MS = 86_400_000;
const OPEN_TIMEOUT_MS = 3_000;

interface VitrineDB extends DBSchema {
  events: { key: number; value: ProfileEvent; indexes: { hour: number } };
  state: { key: string; value: ProfileAggregates };
}

/**
 * Behaviour profile in IndexedDB. Bounded (retention policy), closes itself when another
 * tab wants to upgrade the schema, and reopens once when the browser drops the connection.
 */
export class IdbProfileStore implements ProfileStore {
  readonly kind = 'indexeddb' as const;
  private db: IDBPDatabase<VitrineDB> | null = null;

  private constructor(
    private readonly retention: RetentionPolicy,
    private readonly now: () => number,
  ) {}

  /** Opens (and upgrades) the database; rejects when IndexedDB is missing, blocked or broken. */
  static async open(retention: RetentionPolicy = DEFAULT_RETENTION, now: () => number = Date.now): Promise<IdbProfileStore> {
    const store = new IdbProfileStore(retention, now);
    store.db = await store.connect();
    // Quota/permission problems often only show on the first write: probe with a read-write tx.
    const tx = store.db.transaction('state', 'readwrite');
    await tx.store.get('aggregates');
    await tx.done;
    return store;
  }

  private async connect(): Promise<IDBPDatabase<VitrineDB>> {
    // Accessing `indexedDB` itself throws a SecurityError in some sandboxed iframes.
    if (typeof indexedDB === 'undefined' || !indexedDB) throw new Error('IndexedDB is not available');
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('IndexedDB open timed out (blocked by another tab?)')), OPEN_TIMEOUT_MS);
    });
    try {
      const db = await Promise.race([
        openDB<VitrineDB>(DB_NAME, DB_VERSION, {
          upgrade(database, oldVersion) {
            if (oldVersion < 1) {
              const events = database.createObjectStore('events', { autoIncrement: true });
              events.createIndex('hour', 'hour');
              database.createObjectStore('state');
            }
          },
          // Another tab wants a newer schema: step aside so it is not blocked forever.
          blocking: () => this.dropConnection(),
          // The browser closed the connection abnormally (Safari "connection lost").
          terminated: () => {
            this.db = null;
          },
        }),
        timeout,
      ]);
      return db;
    } finally {
      clearTimeout(timer);
    }
  }

  private dropConnection(): void {
    this.db?.close();
    this.db = null;
  }

  /** Runs `fn`, reopening the connection once if it was lost or closed under us. */
  private async withDb<T>(fn: (db: IDBPDatabase<VitrineDB>) => Promise<T>): Promise<T> {
    if (!this.db) this.db = await this.connect();
    try {
      return await fn(this.db);
    } catch (err) {
      if (!isConnectionError(err)) throw err;
      this.db = await this.connect();
      return fn(this.db);
    }
  }

  load(): Promise<ProfileAggregates> {
    return this.withDb(async (db) => (await db.get('state', 'aggregates')) ?? emptyAggregates());
  }

  append(event: ProfileEvent): Promise<ProfileAggregates> {
    return this.withDb(async (db) => {
      const tx = db.transaction(['events', 'state'], 'readwrite');
      const state = tx.objectStore('state');
      const events = tx.objectStore('events');
      const next = applyEvent((await state.get('aggregates')) ?? emptyAggregates(), event);
      await state.put(next, 'aggregates');
      await events.add(event);
      await this.pruneIn(events);
      await tx.done;
      return next;
    });
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
    return this.withDb((db) => db.getAll('events'));
  }

  clear(): Promise<void> {
    return this.withDb(async (db) => {
      const tx = db.transaction(['events', 'state'], 'readwrite');
      await Promise.all([tx.objectStore('events').clear(), tx.objectStore('state').clear(), tx.done]);
    });
  }

  close(): void {
    this.dropConnection();
  }
}

function isConnectionError(err: unknown): boolean {
  const name = (err as { name?: string } | null)?.name;
  const message = String((err as { message?: string } | null)?.message ?? '');
  return name === 'InvalidStateError' || /connection.*(lost|closed)|database.*closing/i.test(message);
}
