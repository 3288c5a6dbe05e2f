/** Owns the SQL of the `rounds` table: a round's row and its report. */
import { fromJson, type Queryable } from './db';

/** A new round row; `report` may be filled in later with `completeRound`. Returns its id. */
export async function insertRound(tx: Queryable, model: string, status: string, cohort: number, report: object = {}): Promise<number> {
  const [{ id }] = await tx.query<{ id: number }>(
    `insert into rounds (model, status, cohort, report) values ($1, $2, $3, $4) returning id`,
    [model, status, cohort, JSON.stringify(report)],
  );
  return id;
}

export async function completeRound(tx: Queryable, id: number, candidate: string, report: object): Promise<void> {
  await tx.query('update rounds set candidate = $1, report = $2 where id = $3', [candidate, JSON.stringify(report), id]);
}

export interface RoundRow {
  id: number;
  at: string;
  status: string;
  cohort: number;
  candidate: string | null;
  report: unknown;
}

/** The newest rounds, newest first, reports decoded. */
export async function selectRecentRounds(db: Queryable, limit = 20): Promise<RoundRow[]> {
  const rows = await db.query<RoundRow>('select id, at, status, cohort, candidate, report from rounds order by id desc limit $1', [limit]);
  return rows.map((r) => ({ ...r, report: fromJson(r.report) }));
}
