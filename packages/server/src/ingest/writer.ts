/** Owns the group-commit writer: batches arriving together share one transaction; each is answered after COMMIT. */
import { insertBatches, type ReceivedBatch } from '../store/batches';
import { countDuplicates } from '../store/counters';
import type { Db } from '../store/db';

export interface IngestResult {
  accepted: boolean;
  duplicate: boolean;
  /** The id was stored before with a different body: refused (409), never merged or replaced. */
  conflict: boolean;
}

interface Pending {
  batch: ReceivedBatch;
  resolve: (r: IngestResult) => void;
  reject: (e: unknown) => void;
}

/**
 * Group commit: batches arriving together are written in one transaction (one multi-row
 * INSERT ... ON CONFLICT DO NOTHING), and every request is answered only after COMMIT.
 * A batch id seen before is a duplicate: acknowledged again, counted once.
 */
export class SignalWriter {
  private queue: Pending[] = [];
  private writing: Promise<void> | null = null;

  constructor(
    private readonly db: Db,
    private readonly maxGroup = 512,
  ) {}

  write(batch: ReceivedBatch): Promise<IngestResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ batch, resolve, reject });
      if (!this.writing) this.writing = this.drain();
    });
  }

  private async drain(): Promise<void> {
    // Let the requests of this event-loop turn join the group.
    await new Promise((r) => setImmediate(r));
    while (this.queue.length) {
      const group = this.queue.splice(0, this.maxGroup);
      try {
        const { fresh, conflicting, firstHash } = await this.insert(group.map((p) => p.batch));
        for (const p of group) {
          // The same id twice in one group: the first one is stored, a second with the same
          // body is a duplicate, one with another body a conflict.
          const id = p.batch.batch.id;
          const accepted = fresh.delete(id);
          const conflict = !accepted && (conflicting.has(id) || firstHash.get(id) !== p.batch.bodyHash);
          p.resolve({ accepted, duplicate: !accepted && !conflict, conflict });
        }
      } catch (err) {
        for (const p of group) p.reject(err);
      }
    }
    this.writing = null;
  }

  private async insert(batches: ReceivedBatch[]) {
    const firstHash = new Map<string, string>();
    for (const b of batches) if (!firstHash.has(b.batch.id)) firstHash.set(b.batch.id, b.bodyHash);
    const distinct = [...new Map(batches.map((b) => [b.batch.id, b])).values()].map((b) => ({
      ...b,
      bodyHash: firstHash.get(b.batch.id)!,
    }));
    return this.db.transaction(async (tx) => {
      const { fresh, conflicting } = await insertBatches(tx, distinct);
      const dup = batches.length - fresh.size;
      if (dup) await countDuplicates(tx, dup);
      return { fresh, conflicting, firstHash };
    });
  }

  async flush(): Promise<void> {
    while (this.writing) await this.writing;
  }
}
