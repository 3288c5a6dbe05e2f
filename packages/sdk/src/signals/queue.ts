import type { Ledger, OutboxItem, SignalOutbox } from './outbox';

/**
 * The persistent queue: sealed batches waiting for the server's acknowledgement, in memory and
 * mirrored in the outbox (IndexedDB) so they survive the page. Every write is tracked, so
 * `settled()` can wait for them (tests, page exit).
 */
export class BatchQueue {
  private readonly sealed = new Map<string, OutboxItem>();
  private writes: Promise<unknown> = Promise.resolve();

  constructor(
    readonly outbox: SignalOutbox,
    private readonly onError: (message: string, cause?: unknown) => void,
  ) {}

  /** Sealed batches, oldest first. */
  get items(): OutboxItem[] {
    return [...this.sealed.values()];
  }

  /** Takes a batch into the queue without writing it (read back from the outbox at start). */
  restore(item: OutboxItem): void {
    this.sealed.set(item.id, item);
  }

  /** Takes a sealed batch (new, or with a new retry time) into the queue and persists it. */
  add(item: OutboxItem): Promise<void> {
    this.sealed.set(item.id, item);
    return this.save(item);
  }

  /** Persists an item (also the open batch); a failed write is reported, never thrown. */
  save(item: OutboxItem): Promise<void> {
    return this.track(this.outbox.put(item)).catch((err) =>
      this.onError(`signals: could not persist a batch (${(err as Error).message})`, err),
    );
  }

  /** Writes the item with the ledger atomically: a privacy charge is never recorded without its batch. */
  saveWithLedger(item: OutboxItem, ledger: Ledger): Promise<void> {
    return this.track(this.outbox.putWithLedger(item, ledger));
  }

  /** Takes an acknowledged or dropped batch out of memory; false when it was already gone. */
  take(id: string): boolean {
    return this.sealed.delete(id);
  }

  /** Deletes a batch taken out from the outbox, with the ledger that counts it. */
  async forget(id: string, ledger: Ledger): Promise<void> {
    await this.track(Promise.all([this.outbox.remove(id), this.outbox.saveLedger(ledger)])).catch(() => undefined);
  }

  /** Consent withdrawn: every unsent batch goes, in memory and in the outbox. */
  async clear(): Promise<void> {
    this.sealed.clear();
    await this.outbox.clear().catch(() => undefined);
  }

  /** Resolves when every write started so far has finished (failed writes included). */
  settled(): Promise<void> {
    return this.writes.then(
      () => undefined,
      () => undefined,
    );
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.writes = this.writes.then(
      () => p,
      () => p,
    );
    return p;
  }
}
