/** Owns the group-commit writer: batches arriving together share one transaction; each is answered after COMMIT. */
import type { SignalBatch } from '@vitrine/core/protocol';
import { insertBatches } from '../store/batches';
import { countDuplicates } from '../store/counters';
import type { Db } from '../store/db';

export interface IngestResult {
  accepted: boolean;
  duplicate: boolean;
}

interface Pending {
  batch: SignalBatch;
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

  write(batch: SignalBatch): Promise<IngestResult> {
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
        const fresh = await this.insert(group.map((p) => p.batch));
        for (const p of group) {
          // The same id twice in one group: the first one is stored, the second is a duplicate.
          const accepted = fresh.delete(p.batch.id);
          p.resolve({ accepted, duplicate: !accepted });
        }
      } catch (err) {
        for (const p of group) p.reject(err);
      }
    }
    this.writing = null;
  }

  private async insert(batches: SignalBatch[]): Promise<Set<string>> {
    const distinct = [...new Map(batches.map((b) => [b.id, b])).values()];
    return this.db.transaction(async (tx) => {
      const fresh = await insertBatches(tx, distinct);
      const dup = batches.length - fresh.size;
      if (dup) await countDuplicates(tx, dup);
      return fresh;
    });
  }

  async flush(): Promise<void> {
    while (this.writing) await this.writing;
  }
}
