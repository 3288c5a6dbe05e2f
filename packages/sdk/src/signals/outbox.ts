import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import { eventFromWire, type SignalEvent, type WireBatch, type WireEvent } from '@vitrine/core/protocol';
import type { StorageKind } from '../types';

/** An event of an open batch: named fields, plus what stays on the device until the batch is sealed. */
export interface OpenEvent extends SignalEvent {
  /** `decisionId:activityId`: one event per placed item (a later, better outcome raises its reward). */
  key: string;
  /** W1·x of the placed item under the ranking model: what the update needs; never sent. */
  preActivations?: number[];
}

/** A batch being filled (events so far) or sealed (the exact body to send). */
export interface OutboxItem {
  id: string;
  state: 'open' | 'sealed';
  model: string;
  shadow?: string;
  /** Open: events with the pre-activations the update will need. Sealed: empty (see `body`). */
  events: OpenEvent[];
  /** Whether this batch carries an update; its privacy cost was charged when it opened. */
  withUpdate: boolean;
  /** Seed of the update's local noise (the same noise if the batch is sealed again). */
  noiseSeed?: number[];
  /** Sealed: the wire JSON exactly as it is sent (compact names), kept so every retry sends the same bytes. */
  body?: WireBatch;
  attempts: number;
  nextAt: number;
  createdAt: number;
}

/** An open event as SDK 0.3 stored it: wire names (a, s, p, r, t, q) and pre-activations `z`. */
interface LegacyOpenEvent extends WireEvent {
  key: string;
  z?: number[];
}

/** What the outbox database may hold: current items, or open items written by SDK 0.3. */
export type StoredOutboxItem = Omit<OutboxItem, 'events'> & { events: (OpenEvent | LegacyOpenEvent)[] };

/**
 * Reads a stored item in the current shape. Open batches left by SDK 0.3 (a page closed before
 * sealing) hold their events under wire names: they are renamed here, field for field, so
 * their rewards, propensities and pre-activations still reach the server.
 */
export function upgradeStoredItem(item: StoredOutboxItem): OutboxItem {
  return { ...item, events: item.events.map((e) => ('activityId' in e ? e : upgradeLegacyEvent(e))) };
}

function upgradeLegacyEvent({ key, z, ...wire }: LegacyOpenEvent): OpenEvent {
  return { key, ...eventFromWire(wire), ...(z ? { preActivations: z } : {}) };
}

/** The device's own privacy ledger: dates and costs of contributions, and what was sent. */
export interface Ledger {
  contributions: { at: number; rho: number }[];
  sent: { batches: number; events: number; updates: number; lastAt: number | null };
  dropped: { batches: number; lastReason: string | null };
}

export const emptyLedger = (): Ledger => ({
  contributions: [],
  sent: { batches: 0, events: 0, updates: 0, lastAt: null },
  dropped: { batches: 0, lastReason: null },
});

/** Persistence of the signal queue and the ledger; IndexedDB in browsers, memory in tests. */
export interface SignalOutbox {
  readonly kind: StorageKind;
  list(): Promise<OutboxItem[]>;
  put(item: OutboxItem): Promise<void>;
  /** Writes the item and the ledger atomically (a charge is never recorded without its batch). */
  putWithLedger(item: OutboxItem, ledger: Ledger): Promise<void>;
  remove(id: string): Promise<void>;
  clear(): Promise<void>;
  ledger(): Promise<Ledger>;
  saveLedger(ledger: Ledger): Promise<void>;
  close(): void;
}

export class MemoryOutbox implements SignalOutbox {
  readonly kind = 'memory' as const;
  private items = new Map<string, OutboxItem>();
  private led = emptyLedger();
  async list() {
    return [...this.items.values()].map((i) => structuredClone(i));
  }
  async put(item: OutboxItem) {
    this.items.set(item.id, structuredClone(item));
  }
  async putWithLedger(item: OutboxItem, ledger: Ledger) {
    await this.put(item);
    this.led = structuredClone(ledger);
  }
  async remove(id: string) {
    this.items.delete(id);
  }
  async clear() {
    this.items.clear();
  }
  async ledger() {
    return structuredClone(this.led);
  }
  async saveLedger(ledger: Ledger) {
    this.led = structuredClone(ledger);
  }
  close() {}
}

export const SIGNALS_DB = 'vitrine-signals';

interface SignalsDB extends DBSchema {
  outbox: { key: string; value: StoredOutboxItem };
  ledger: { key: string; value: Ledger };
}

export class IdbOutbox implements SignalOutbox {
  readonly kind = 'indexeddb' as const;
  private constructor(private db: IDBPDatabase<SignalsDB>) {}

  static async open(): Promise<IdbOutbox> {
    if (typeof indexedDB === 'undefined' || !indexedDB) throw new Error('IndexedDB is not available');
    // Assigned once the database is open; the `blocking` callback below reads it later.
    // eslint-disable-next-line prefer-const
    let box: IdbOutbox | undefined;
    const db = await openDB<SignalsDB>(SIGNALS_DB, 1, {
      upgrade(database) {
        database.createObjectStore('outbox', { keyPath: 'id' });
        database.createObjectStore('ledger');
      },
      blocking: () => box?.close(),
    });
    box = new IdbOutbox(db);
    return box;
  }

  async list() {
    return (await this.db.getAll('outbox')).map(upgradeStoredItem);
  }
  async put(item: OutboxItem) {
    await this.db.put('outbox', item);
  }
  async putWithLedger(item: OutboxItem, ledger: Ledger) {
    const tx = this.db.transaction(['outbox', 'ledger'], 'readwrite');
    await Promise.all([tx.objectStore('outbox').put(item), tx.objectStore('ledger').put(ledger, 'ledger'), tx.done]);
  }
  async remove(id: string) {
    await this.db.delete('outbox', id);
  }
  async clear() {
    await this.db.clear('outbox');
  }
  async ledger() {
    return (await this.db.get('ledger', 'ledger')) ?? emptyLedger();
  }
  async saveLedger(ledger: Ledger) {
    await this.db.put('ledger', ledger, 'ledger');
  }
  close() {
    this.db.close();
  }
}
