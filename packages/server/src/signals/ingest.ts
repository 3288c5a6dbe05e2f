import type { WireBatch as SignalBatch } from '@vitrine/core/protocol';
import type { Db } from '../db/db';

export interface IngestResult { accepted: boolean; duplicate: boolean }

interface Pending { batch: SignalBatch; resolve: (r: IngestResult) => void; reject: (e: unknown) => void }

/**
 * Group commit: batches arriving together are written in one transaction (one multi-row
 * INSERT ... ON CONFLICT DO NOTHING), and every request is answered only after COMMIT.
 * A batch id seen before is a duplicate: acknowledged again, counted once.
 */
export class SignalWriter {
  private queue: Pending[] = [];
  private writing: Promise<void> | null = null;

  constructor(private readonly db: Db, private readonly maxGroup = 512) {}

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
    const first = [...new Map(batches.map((b) => [b.id, b])).values()];
    return this.db.transaction(async (tx) => {
      const rows = await tx.query<{ id: string }>(
        `insert into batches (id, model, shadow, events, n_events, update_vec)
         select * from unnest($1::text[], $2::text[], $3::text[], $4::jsonb[], $5::int[], $6::jsonb[])
         on conflict (id) do nothing returning id`,
        [
          first.map((b) => b.id), first.map((b) => b.model), first.map((b) => b.shadow ?? null),
          first.map((b) => JSON.stringify(b.events)), first.map((b) => b.events.length),
          first.map((b) => (b.update ? JSON.stringify(b.update.g) : null)),
        ],
      );
      const fresh = new Set(rows.map((r) => r.id));
      const dup = batches.length - fresh.size;
      if (dup) await tx.query(`update counters set value = value + $1 where name = 'duplicates'`, [dup]);
      return fresh;
    });
  }

  async flush(): Promise<void> {
    while (this.writing) await this.writing;
  }
}
