/**
 * Owns one IndexedDB connection that survives the browser's faults: opening is bounded in
 * time (another tab can block an open forever), the connection steps aside when another tab
 * upgrades the schema, and an operation that finds it lost or closed reopens it once.
 * The profile store and the signal outbox each hold one.
 */
import { openDB, type DBSchema, type IDBPDatabase, type OpenDBCallbacks } from 'idb';

/** How long an open may wait (blocked by another tab's connection, a stuck upgrade) before it fails. */
export const OPEN_TIMEOUT_MS = 3_000;

export class IdbConnection<S extends DBSchema> {
  private db: IDBPDatabase<S> | null = null;
  private opening: Promise<IDBPDatabase<S>> | null = null;
  private closedForGood = false;

  constructor(
    private readonly name: string,
    private readonly version: number,
    private readonly upgrade: NonNullable<OpenDBCallbacks<S>['upgrade']>,
    private readonly timeoutMs = OPEN_TIMEOUT_MS,
  ) {}

  /** The open connection, opening it if needed; rejects when IndexedDB is missing, blocked past the timeout or broken. */
  connection(): Promise<IDBPDatabase<S>> {
    if (this.closedForGood) return Promise.reject(new Error(`${this.name}: closed`));
    if (this.db) return Promise.resolve(this.db);
    this.opening ??= this.openBounded().finally(() => {
      this.opening = null;
    });
    return this.opening;
  }

  /** Runs `fn` on the connection, reopening once if the browser lost or closed it under us. */
  async run<T>(fn: (db: IDBPDatabase<S>) => Promise<T>): Promise<T> {
    const db = await this.connection();
    try {
      return await fn(db);
    } catch (err) {
      if (!isConnectionError(err)) throw err;
      if (this.db === db) this.drop();
      return fn(await this.connection());
    }
  }

  /** Closes the connection and refuses to reopen (the owner is done with it). */
  close(): void {
    this.closedForGood = true;
    this.drop();
  }

  private drop(): void {
    this.db?.close();
    this.db = null;
  }

  private async openBounded(): Promise<IDBPDatabase<S>> {
    // Accessing `indexedDB` itself throws a SecurityError in some sandboxed iframes.
    if (typeof indexedDB === 'undefined' || !indexedDB) throw new Error('IndexedDB is not available');
    let timedOut = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        timedOut = true;
        reject(new Error(`IndexedDB open of "${this.name}" timed out after ${this.timeoutMs} ms (blocked by another tab?)`));
      }, this.timeoutMs);
    });
    const opening = openDB<S>(this.name, this.version, {
      upgrade: this.upgrade,
      // Another tab wants a newer schema: step aside so it is not blocked; the next operation reopens.
      blocking: () => this.drop(),
      // The browser closed the connection abnormally (Safari "connection lost", storage cleared).
      terminated: () => {
        this.db = null;
      },
    });
    // An open that succeeds after the timeout, or after close(), must not keep a connection that blocks other tabs.
    opening.then(
      (db) => {
        if (timedOut || this.closedForGood) db.close();
      },
      () => undefined,
    );
    try {
      const db = await Promise.race([opening, timeout]);
      if (this.closedForGood) throw new Error(`${this.name}: closed`);
      this.db = db;
      return db;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Errors that mean the connection is gone (closed by us on `blocking`, or by the browser), not that the operation is wrong. */
export function isConnectionError(err: unknown): boolean {
  const name = (err as { name?: string } | null)?.name;
  const message = String((err as { message?: string } | null)?.message ?? '');
  return name === 'InvalidStateError' || /connection.*(lost|closed)|database.*clos(ing|ed)/i.test(message);
}
