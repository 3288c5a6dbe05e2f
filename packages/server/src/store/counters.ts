/** Owns the SQL of the `counters` table: rejected batches and duplicates dropped. */
import type { Queryable } from './db';

export async function countRejected(db: Queryable): Promise<void> {
  await db.query(`update counters set value = value + 1 where name = 'rejected'`);
}

export async function countDuplicates(tx: Queryable, n: number): Promise<void> {
  await tx.query(`update counters set value = value + $1 where name = 'duplicates'`, [n]);
}

export async function selectCounters(db: Queryable): Promise<Record<string, number>> {
  const rows = await db.query<{ name: string; value: string }>('select name, value from counters');
  return Object.fromEntries(rows.map((r) => [r.name, Number(r.value)]));
}
