import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import type { WireBatch } from '@vitrine/core/protocol';

/** A batch being filled (events so far) or sealed (the exact body to send). */
export interface OutboxItem {
  id: string;
  state: 'open' | 'sealed';
  model: string;
  shadow?: string;
  /** Open: events with the pre-activations the update will need. */
  events: (WireBatch['events'][number] & { key: string; z?: number[] })[];
  /** Whether this batch carries an update; its privacy cost was charged when it opened. */
  withUpdate: boolean;
  /** Seed of the update's local noise (the same noise if the batch is sealed again). */
  noiseSeed?: number[];
  body?: WireBatch;
  attempts: number;
  nextAt: number;
  createdAt: number;
}

/** The device's own privacy ledger: dates and costs of contributions, and what was sent. */
export interface Ledger {
  contributions: { at: number; rho: number }[];
  sent: { batches: number; events: number; updates: number; lastAt: number | null };
  dropped: { batches: number; lastReason: string | null };
}

export const emptyLedger = (): Ledger => ({ contributions: [], sent: { batches: 0, events: 0, updates: 0, lastAt: null }, dropped: { batches: 0, lastReason: null } });

/** Persistence of the signal queue and the ledger; IndexedDB in browsers, memory in tests. */
export interface SignalOutbox {
  readonly kind: 'indexeddb' | 'memory';
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
  async list() { return [...this.items.values()].map((i) => structuredClone(i)); }
  async put(item: OutboxItem) { this.items.set(item.id, structuredClone(item)); }
  async putWithLedger(item: OutboxItem, ledger: Ledger) { await this.put(item); this.led = structuredClone(ledger); }
  async remove(id: string) { this.items.delete(id); }
  async clear() { this.items.clear(); }
  async ledger() { return structuredClone(this.led); }
  async saveLedger(ledger: Ledger) { this.led = structuredClone(ledger); }
  close() {}
}

export const SIGNALS_DB = 'vitrine-signals';

interface SignalsDB extends DBSchema {
  outbox: { key: string; value: OutboxItem };
  ledger: { key: string; value: Ledger };
}

export class IdbOutbox implements SignalOutbox {
  readonly kind = 'indexeddb' as const;
  private constructor(private db: IDBPDatabase<SignalsDB>) {}

  static async open(): Promise<IdbOutbox> {
    if (typeof indexedDB === 'undefined' || !indexedDB) throw new Error('IndexedDB is not available');
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

  list() { return this.db.getAll('outbox'); }
  async put(item: OutboxItem) { await this.db.put('outbox', item); }
  async putWithLedger(item: OutboxItem, ledger: Ledger) {
    const tx = this.db.transaction(['outbox', 'ledger'], 'readwrite');
    await Promise.all([tx.objectStore('outbox').put(item), tx.objectStore('ledger').put(ledger, 'ledger'), tx.done]);
  }
  async remove(id: string) { await this.db.delete('outbox', id); }
  async clear() { await this.db.clear('outbox'); }
  async ledger() { return (await this.db.get('ledger', 'ledger')) ?? emptyLedger(); }
  async saveLedger(ledger: Ledger) { await this.db.put('ledger', ledger, 'ledger'); }
  close() { this.db.close(); }
}
