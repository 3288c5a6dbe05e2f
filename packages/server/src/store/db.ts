/** Owns the storage interface (`Db`, `Queryable`), opening a store (PGlite or PostgreSQL) and decoding jsonb values. */
/**
 * The one storage interface of the server. Two implementations run the same SQL: PGlite
 * (embedded Postgres in WASM; in memory for tests, or in a data directory) and PostgreSQL
 * through `pg` (DATABASE_URL). Queries use only what both support.
 */
export interface Queryable {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
}

export interface Db extends Queryable {
  readonly kind: 'pglite' | 'postgres';
  /** Runs `fn` in one transaction; commits when it resolves, rolls back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface DbOptions {
  /** postgres://... to use PostgreSQL; otherwise embedded PGlite. */
  databaseUrl?: string;
  /** PGlite data directory; omitted means in memory. */
  dataDir?: string;
}

export async function openDb(options: DbOptions): Promise<Db> {
  const db = options.databaseUrl
    ? await (await import('./postgres')).openPostgres(options.databaseUrl)
    : await (await import('./pglite')).openPglite(options.dataDir);
  const { migrate } = await import('./migrations');
  await migrate(db);
  return db;
}

/** A jsonb value as a driver hands it back: parsed already, or (defensively) still JSON text. */
export const fromJson = <T>(value: T | string): T => (typeof value === 'string' ? JSON.parse(value) : value);
