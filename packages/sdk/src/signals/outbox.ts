import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import type { HeadExample } from '@vitrine/core/privacy';
import { eventFromWire, type SignalEvent, type WireBatch, type WireEvent } from '@vitrine/core/protocol';
import type { StorageKind } from '../types';

/** An event of an open batch: named fields, plus what stays on the device until the batch is sealed. */
export interface OpenEvent extends SignalEvent {
  /** `decisionId:activityId`: one event per placed item (a later, better outcome raises its reward). */
  key: string;
  /** The placed item's residual-head inputs and logit: what the update is computed from; never sent. */
  example?: HeadExample;
}

/** A batch being filled (events so far) or sealed (the exact body to send). */
export interface OutboxItem {
  id: string;
  state: 'open' | 'sealed';
  model: string;
  shadow?: string;
  /** Open: events with the head examples the update will need. Sealed: empty (see `body`). */
  events: OpenEvent[];
  /** Whether this batch carries an update; its privacy cost was charged when it opened. */
  withUpdate: boolean;
  /** Sealed: the wire JSON exactly as it is sent (compact names), kept so every retry sends the same bytes. */
  body?: WireBatch;
  /** The tab (signals stage) that opened the batch: random, never sent. Other tabs leave its open batch alone. */
  owner: string;
  /** When the owner last wrote the open batch: another tab seals it only once it has gone untouched for long. */
  touchedAt: number;
  attempts: number;
  nextAt: number;
  createdAt: number;
}

/** An open event as SDK 0.3 stored it: wire names (a, s, p, r, t, q) and pre-activations `z` (no longer used). */
interface LegacyOpenEvent extends WireEvent {
  key: string;
  z?: number[];
}

/** An open event as SDK 0.4 stored it: named fields and first-layer pre-activations (no longer used). */
interface PreActivationEvent extends SignalEvent {
  key: string;
  preActivations?: number[];
}

/** What the outbox database may hold: current items, or items written by SDK 0.3 and 0.4 (no owner, maybe a noise seed). */
export type StoredOutboxItem = Omit<OutboxItem, 'events' | 'owner' | 'touchedAt'> & {
  events: (OpenEvent | PreActivationEvent | LegacyOpenEvent)[];
  owner?: string;
  touchedAt?: number;
  noiseSeed?: number[];
};

/**
 * Reads a stored item in the current shape. Open batches left by SDK 0.3 (a page closed before
 * sealing) hold their events under wire names: they are renamed here, field for field, so
 * their rewards and propensities still reach the server. Events of 0.3 and 0.4 carry the old
 * update's pre-activations, which the residual head cannot use: such a batch is sent without
 * an update (its charge stays on the ledger, an overcount, never an undercount). They name no
 * owner, and their creation is the last write known.
 */
export function upgradeStoredItem({ noiseSeed: _seed, owner, touchedAt, ...item }: StoredOutboxItem): OutboxItem {
  return {
    ...item,
    owner: owner ?? '',
    touchedAt: touchedAt ?? item.createdAt,
    events: item.events.map((e) => ('activityId' in e ? upgradeNamedEvent(e) : upgradeLegacyEvent(e))),
  };
}

function upgradeNamedEvent(e: OpenEvent | PreActivationEvent): OpenEvent {
  if (!('preActivations' in e)) return e as OpenEvent;
  const { preActivations: _z, ...event } = e;
  return event;
}

function upgradeLegacyEvent({ key, z: _z, ...wire }: LegacyOpenEvent): OpenEvent {
  return { key, ...eventFromWire(wire) };
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

/**
 * Decides a privacy charge from the ledger as stored: the charged ledger, or null to open the
 * batch without an update. Runs inside the outbox's transaction, so it must be synchronous.
 */
export type ChargeDecision = (stored: Ledger) => Ledger | null;

/** Whether an item may be written over the stored copy (undefined: none stored). Synchronous, like ChargeDecision; reads only. */
export type WriteCondition = (stored: OutboxItem | undefined) => boolean;

/**
 * Persistence of the signal queue and the ledger; IndexedDB in browsers, memory in tests.
 * Tabs of one shopper share the IndexedDB outbox: every write that depends on what another tab
 * may have written (the ledger, another tab's batch) reads and writes in one transaction.
 */
export interface SignalOutbox {
  readonly kind: StorageKind;
  list(): Promise<OutboxItem[]>;
  put(item: OutboxItem): Promise<void>;
  /**
   * Stores a new batch with its privacy charge, atomically: the stored ledger is read, `decide`
   * charges it or refuses (then the batch is stored without an update) and both are written.
   * Two tabs opening batches at once cannot both charge for one allowance.
   */
  openWithCharge(item: OutboxItem, decide: ChargeDecision): Promise<{ item: OutboxItem; ledger: Ledger }>;
  /** Writes the item, as it is at the call, only if `condition` holds for the stored copy, in one transaction; whether it was written. */
  putIf(item: OutboxItem, condition: WriteCondition): Promise<boolean>;
  /** Deletes an item and updates the stored ledger with `change`, in one transaction; the ledger written. */
  removeWithLedger(id: string, change: (stored: Ledger) => Ledger): Promise<Ledger>;
  clear(): Promise<void>;
  ledger(): Promise<Ledger>;
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
  async openWithCharge(item: OutboxItem, decide: ChargeDecision) {
    const charged = decide(structuredClone(this.led));
    const opened = charged ? item : { ...item, withUpdate: false };
    if (charged) this.led = structuredClone(charged);
    await this.put(opened);
    return { item: opened, ledger: structuredClone(this.led) };
  }
  async putIf(item: OutboxItem, condition: WriteCondition) {
    if (!condition(this.items.get(item.id))) return false;
    await this.put(item);
    return true;
  }
  async removeWithLedger(id: string, change: (stored: Ledger) => Ledger) {
    this.items.delete(id);
    this.led = structuredClone(change(structuredClone(this.led)));
    return structuredClone(this.led);
  }
  async clear() {
    this.items.clear();
  }
  async ledger() {
    return structuredClone(this.led);
  }
  close() {}
}

export const SIGNALS_DB = 'vitrine-signals';
/** The ledger's key in its store (one ledger per device). */
const LEDGER_KEY = 'ledger';

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
  async openWithCharge(item: OutboxItem, decide: ChargeDecision) {
    // Everything between reading the ledger and the two writes is synchronous: an IndexedDB
    // transaction commits once no request is pending, and readwrite transactions over the same
    // stores run one after another, so another tab's charge is either seen here or waits for it.
    const tx = this.db.transaction(['outbox', 'ledger'], 'readwrite');
    const stored = (await tx.objectStore('ledger').get(LEDGER_KEY)) ?? emptyLedger();
    const charged = decide(stored);
    const opened = charged ? item : { ...item, withUpdate: false };
    const writes: Promise<unknown>[] = [tx.objectStore('outbox').put(opened), tx.done];
    if (charged) writes.push(tx.objectStore('ledger').put(charged, LEDGER_KEY));
    await Promise.all(writes);
    return { item: opened, ledger: charged ?? stored };
  }
  async putIf(item: OutboxItem, condition: WriteCondition) {
    const copy = structuredClone(item); // written after the read below: the caller may add events meanwhile
    const tx = this.db.transaction('outbox', 'readwrite');
    const stored = await tx.store.get(item.id);
    const allowed = condition(stored && upgradeStoredItem(stored));
    await Promise.all([allowed && tx.store.put(copy), tx.done]);
    return allowed;
  }
  async removeWithLedger(id: string, change: (stored: Ledger) => Ledger) {
    const tx = this.db.transaction(['outbox', 'ledger'], 'readwrite');
    const ledger = change((await tx.objectStore('ledger').get(LEDGER_KEY)) ?? emptyLedger());
    await Promise.all([tx.objectStore('outbox').delete(id), tx.objectStore('ledger').put(ledger, LEDGER_KEY), tx.done]);
    return ledger;
  }
  async clear() {
    await this.db.clear('outbox');
  }
  async ledger() {
    return (await this.db.get('ledger', LEDGER_KEY)) ?? emptyLedger();
  }
  close() {
    this.db.close();
  }
}
