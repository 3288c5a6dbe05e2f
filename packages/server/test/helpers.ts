import pg from 'pg';
import { DEFAULT_PRIVACY, DEFAULT_SEED_MODEL, type ServerConfig } from '../src/config';

/** Where the PostgreSQL tests run: VITRINE_TEST_DATABASE_URL, or the database `.ci/run` creates. */
export const TEST_PG_URL = process.env.VITRINE_TEST_DATABASE_URL ?? 'postgres://vitrine:vitrine@127.0.0.1:5432/vitrine_test';

export async function postgresReachable(): Promise<boolean> {
  const c = new pg.Client({ connectionString: TEST_PG_URL, connectionTimeoutMillis: 2000 });
  try {
    await c.connect();
    await c.end();
    return true;
  } catch {
    return false;
  }
}

/** Empties the test database (drops every table) so each suite starts from the migrations. */
export async function resetPostgres(): Promise<void> {
  const c = new pg.Client({ connectionString: TEST_PG_URL });
  await c.connect();
  await c.query('drop schema public cascade; create schema public;');
  await c.end();
}

export function testConfig(overrides: Partial<ServerConfig> = {}): ServerConfig {
  return {
    port: 0,
    host: '127.0.0.1',
    seedModel: DEFAULT_SEED_MODEL,
    // A very large epsilon keeps the noise of these few-device rounds small enough to publish;
    // the gate test below uses the real default.
    privacy: { ...DEFAULT_PRIVACY, epsilon: 1e6, minCohort: 5, kThreshold: 2 },
    promotion: { minEvents: 20, margin: 0.01 },
    roundIntervalMs: 0,
    rateLimit: { max: 10_000, windowMs: 60_000 },
    bodyLimit: 64 * 1024,
    logger: false,
    // Tests may run the no-noise baseline, as the simulation does; a deployed server never can.
    allowNoiseOff: true,
    ...overrides,
  };
}

export function randomBatchId(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}
