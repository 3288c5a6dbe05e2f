/** Owns the PostgreSQL store: a `pg` pool (DATABASE_URL) behind `Db`, with transactions on one client. */
import pg from 'pg';
import type { Db, Queryable } from './db';

export async function openPostgres(url: string): Promise<Db> {
  const pool = new pg.Pool({ connectionString: url, max: Number(process.env.VITRINE_PG_POOL ?? 10) });
  // Fail fast with a clear message instead of on the first request.
  try {
    await pool.query('select 1');
  } catch (err) {
    await pool.end();
    throw new Error(`cannot connect to DATABASE_URL (${(err as Error).message})`, { cause: err });
  }
  const wrap = (c: pg.Pool | pg.PoolClient): Queryable => ({
    async query<T>(sql: string, params?: unknown[]) {
      return (await c.query(sql, params)).rows as T[];
    },
  });
  return {
    kind: 'postgres',
    query: wrap(pool).query,
    async transaction(fn) {
      const client = await pool.connect();
      try {
        await client.query('begin');
        const result = await fn(wrap(client));
        await client.query('commit');
        return result;
      } catch (err) {
        await client.query('rollback').catch(() => undefined);
        throw err;
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
  };
}
