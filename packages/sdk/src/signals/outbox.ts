import type { DBSchema, IDBPTransaction } from 'idb';
import { IdbConnection } from '../idb-connection';
import { parseLedger, parseStoredItem } from './outbox-records';
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
  /**
   * The randomized segment report this batch carries with its update (randomized when the batch
   * opened: the true segment is never stored). Sent only if the batch seals with an update.
   */
  segment?: { policy: string; index: number };
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
  /** Set when a corrupt ledger was replaced: no update for a whole window from then (its budget use is unknown). */
  blockedSince?: number;
  blockedReason?: string;
}

export const emptyLedger = (): Ledger => ({
  contributions: [],
  sent: { batches: 0, events: 0, updates: 0, lastAt: null },
  dropped: { batches: 0, lastReason: null },
});

/**
 * A ledger that refuses updates for a whole window from `now`: for a queue kept in memory, which
 * forgets what earlier pages spent (a fresh empty ledger on every page would hand the budget back).
 */
export const memoryOnlyLedger = (now: number, why: string): Ledger => ({
  ...emptyLedger(),
  blockedSince: now,
  blockedReason: `no model updates: ${why}, so the spent budget is unknown`,
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
  private led: Ledger;

  /** `ledger`: where to start (Node tools carry one across a simulated shopper's visits; the SDK's own fallback starts blocked). */
  constructor(ledger: Ledger = emptyLedger()) {
    this.led = structuredClone(ledger);
  }
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
  // Typed as unknown on read: whatever is stored is checked before use (outbox-records.ts).
  outbox: { key: string; value: StoredOutboxItem | unknown };
  ledger: { key: string; value: Ledger | unknown };
}

export interface IdbOutboxEnv {
  now: () => number;
  /** Told what was repaired on read (a corrupt batch dropped, a corrupt ledger replaced). */
  onRepair: (reason: string) => void;
}

type OutboxTx = IDBPTransaction<SignalsDB, ('outbox' | 'ledger')[], 'readwrite'>;

/**
 * The signal queue and the ledger in IndexedDB, shared by the shopper's tabs. The connection
 * reopens when lost and steps aside for another tab's upgrade (IdbConnection); every record is
 * checked on read.
 */
export class IdbOutbox implements SignalOutbox {
  readonly kind = 'indexeddb' as const;
  private readonly connection = new IdbConnection<SignalsDB>(SIGNALS_DB, 1, (database) => {
    database.createObjectStore('outbox', { keyPath: 'id' });
    database.createObjectStore('ledger');
  });

  private constructor(private readonly env: IdbOutboxEnv) {}

  static async open(env: IdbOutboxEnv = { now: Date.now, onRepair: () => undefined }): Promise<IdbOutbox> {
    const box = new IdbOutbox(env);
    await box.connection.connection();
    return box;
  }

  private transact<T>(work: (tx: OutboxTx) => Promise<T>): Promise<T> {
    return this.connection.run(async (db) => {
      const tx = db.transaction(['outbox', 'ledger'], 'readwrite');
      // Awaited together: a failed request aborts the transaction, and an unawaited tx.done would reach the page.
      const [result] = await Promise.all([work(tx), tx.done]);
      return result;
    });
  }

  /** The stored ledger, checked; a corrupt one is replaced in this transaction (see parseLedger). */
  private async readLedger(tx: OutboxTx): Promise<Ledger> {
    const { ledger, repaired } = parseLedger(await tx.objectStore('ledger').get(LEDGER_KEY), this.env.now());
    if (repaired) {
      await tx.objectStore('ledger').put(ledger, LEDGER_KEY);
      this.env.onRepair(repaired);
    }
    return ledger;
  }

  list(): Promise<OutboxItem[]> {
    return this.transact(async (tx) => {
      const items: OutboxItem[] = [];
      const reasons: string[] = [];
      let cursor = await tx.objectStore('outbox').openCursor();
      while (cursor) {
        const parsed = parseStoredItem(cursor.value);
        if (!parsed.item) {
          reasons.push(parsed.reason);
          await cursor.delete();
        } else {
          items.push(parsed.item);
          if (parsed.droppedEvents) {
            await cursor.update(parsed.item);
            this.env.onRepair(`${parsed.droppedEvents} corrupt event(s) dropped from unsent batch ${parsed.item.id}`);
          }
        }
        cursor = await cursor.continue();
      }
      if (reasons.length) {
        const ledger = await this.readLedger(tx);
        const dropped = { batches: ledger.dropped.batches + reasons.length, lastReason: reasons[reasons.length - 1] };
        await tx.objectStore('ledger').put({ ...ledger, dropped }, LEDGER_KEY);
        for (const reason of reasons) this.env.onRepair(`${reason}: dropped`);
      }
      return items;
    });
  }
  async put(item: OutboxItem) {
    await this.connection.run((db) => db.put('outbox', item));
  }
  openWithCharge(item: OutboxItem, decide: ChargeDecision) {
    // Everything between reading the ledger and the two writes is synchronous: an IndexedDB
    // transaction commits once no request is pending, and readwrite transactions over the same
    // stores run one after another, so another tab's charge is either seen here or waits for it.
    return this.transact(async (tx) => {
      const stored = await this.readLedger(tx);
      const charged = decide(stored);
      const opened = charged ? item : { ...item, withUpdate: false };
      await Promise.all([tx.objectStore('outbox').put(opened), charged && tx.objectStore('ledger').put(charged, LEDGER_KEY)]);
      return { item: opened, ledger: charged ?? stored };
    });
  }
  putIf(item: OutboxItem, condition: WriteCondition) {
    const copy = structuredClone(item); // written after the read below: the caller may add events meanwhile
    return this.transact(async (tx) => {
      const raw = await tx.objectStore('outbox').get(item.id);
      const stored = raw === undefined ? undefined : parseStoredItem(raw).item;
      // A corrupt stored copy is neither this tab's open batch nor another tab's sealed one: refused (the events move on).
      const allowed = stored === null ? false : condition(stored);
      if (allowed) await tx.objectStore('outbox').put(copy);
      return allowed;
    });
  }
  removeWithLedger(id: string, change: (stored: Ledger) => Ledger) {
    return this.transact(async (tx) => {
      const ledger = change(await this.readLedger(tx));
      await Promise.all([tx.objectStore('outbox').delete(id), tx.objectStore('ledger').put(ledger, LEDGER_KEY)]);
      return ledger;
    });
  }
  async clear() {
    await this.connection.run((db) => db.clear('outbox'));
  }
  ledger() {
    return this.transact((tx) => this.readLedger(tx));
  }
  close() {
    this.connection.close();
  }
}
