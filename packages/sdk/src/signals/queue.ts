import type { ChargeDecision, Ledger, OutboxItem, SignalOutbox, WriteCondition } from './outbox';

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

  /** Stores a new batch with its privacy charge in one transaction (see SignalOutbox.openWithCharge); throws when it cannot. */
  openWithCharge(item: OutboxItem, decide: ChargeDecision): Promise<{ item: OutboxItem; ledger: Ledger }> {
    return this.track(this.outbox.openWithCharge(item, decide));
  }

  /**
   * Writes the item, as it is at the call, if `condition` holds for the stored copy: 'written', 'refused', or 'failed'
   * (the write itself failed: reported, never thrown; the item stays in memory).
   */
  saveIf(item: OutboxItem, condition: WriteCondition): Promise<'written' | 'refused' | 'failed'> {
    return this.track(this.outbox.putIf(item, condition)).then(
      (written) => (written ? 'written' : 'refused'),
      (err) => {
        this.onError(`signals: could not persist a batch (${(err as Error).message})`, err);
        return 'failed' as const;
      },
    );
  }

  /** Takes an acknowledged or dropped batch out of memory; false when it was already gone. */
  take(id: string): boolean {
    return this.sealed.delete(id);
  }

  /**
   * Deletes a batch taken out from the outbox and counts it in the stored ledger (another tab
   * may have counted its own batches meanwhile); the ledger written, or null when the write failed.
   */
  async forget(id: string, change: (stored: Ledger) => Ledger): Promise<Ledger | null> {
    return this.track(this.outbox.removeWithLedger(id, change)).catch(() => null);
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
    // The chain only waits: a failed write is the caller's to handle, and a rejected chain that
    // nobody awaits yet would reach the page as an unhandled rejection.
    const finished = p.then(
      () => undefined,
      () => undefined,
    );
    this.writes = this.writes.then(() => finished);
    return p;
  }
}
