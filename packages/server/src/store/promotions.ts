/** Owns the SQL of the `promotions` table: each promote/reject decision with its report. */
import type { Queryable } from './db';

export async function insertPromotion(tx: Queryable, report: { shadow: string; current: string; decision: string }): Promise<void> {
  await tx.query('insert into promotions (shadow, current, decision, report) values ($1, $2, $3, $4)', [
    report.shadow,
    report.current,
    report.decision,
    JSON.stringify(report),
  ]);
}

/** The newest decisions, newest first, as stored. */
export async function selectRecentPromotions(db: Queryable, limit = 20): Promise<Record<string, unknown>[]> {
  return db.query('select at, shadow, current, decision, report from promotions order by id desc limit $1', [limit]);
}
