import { readFileSync } from 'node:fs';
import pg from 'pg';
import type { UpdatePriorFile } from '@vitrine/core/privacy';
import { timeBucket } from '@vitrine/core/protocol';
import type { VitrineServer } from '../src/http/server';
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

/**
 * A schema of its own in the test database, emptied, for a test file that runs beside others
 * (files run in parallel; `resetPostgres` empties `public`, which server.test.ts uses). Returns
 * the URL whose connections use it (`search_path`).
 */
export async function resetPostgresSchema(schema: string): Promise<string> {
  if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`bad schema name ${schema}`);
  const c = new pg.Client({ connectionString: TEST_PG_URL });
  await c.connect();
  await c.query(`drop schema if exists ${schema} cascade; create schema ${schema};`);
  await c.end();
  const url = new URL(TEST_PG_URL);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return url.toString();
}

export function testConfig(overrides: Partial<ServerConfig> = {}): ServerConfig {
  return {
    port: 0,
    host: '127.0.0.1',
    seedModel: DEFAULT_SEED_MODEL,
    // A very large epsilon keeps the noise of these few-device rounds small enough to publish;
    // the gate test below uses the real default.
    privacy: { ...DEFAULT_PRIVACY, epsilon: 1e6, minCohort: 5, kThreshold: 2, roundSpacingHours: 0 },
    promotion: { minEvents: 20, margin: 0.01 },
    roundIntervalMs: 0,
    rateLimit: { max: 10_000, windowMs: 60_000 },
    bodyLimit: 64 * 1024,
    trustProxy: false,
    // Tests read stats right after writing; the cache has its own test (hardening.test.ts).
    stats: { cacheMs: 0, rateLimit: { max: 10_000, windowMs: 60_000 } },
    logger: false,
    // Tests may run the no-noise baseline, as the simulation does; a deployed server never can.
    allowNoiseOff: true,
    ...overrides,
  };
}

export function randomBatchId(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}

const seedManifest = JSON.parse(readFileSync(DEFAULT_SEED_MODEL, 'utf8'));
export const SEED_VERSION: string = seedManifest.version;
/** The shipped seed's update prior (clip norms, dimension), as the server publishes it. */
export const SEED_PRIOR: UpdatePriorFile = JSON.parse(
  readFileSync(new URL(`${seedManifest.files[0].path.split('/')[0]}/update-prior.json`, `file://${DEFAULT_SEED_MODEL}`), 'utf8'),
);

export const nowBucket = () => timeBucket(Date.now());
export const signalEvent = (over: Record<string, unknown> = {}) => ({ a: 'bar-1d', s: 0, p: 0.95, r: 1, t: nowBucket(), ...over });
export const signalBatch = (over: Record<string, unknown> = {}) => ({
  format: 'vitrine-signals@1',
  id: randomBatchId(),
  model: SEED_VERSION,
  events: [signalEvent()],
  ...over,
});

/**
 * An update as an honest device could send it: g with L2 norm `scale` × clipGradient in a
 * direction from `direction(j)`, h ≥ 0 with norm ≤ clipCurvature, 6 significant digits.
 */
export function deviceUpdate(direction: (j: number) => number, scale = 0.5, n = 1) {
  const d = SEED_PRIOR.dimension;
  const raw = Array.from({ length: d }, (_, j) => direction(j));
  const norm = Math.hypot(...raw) || 1;
  const g = raw.map((x) => Number(((x / norm) * scale * SEED_PRIOR.clipGradient * 0.999).toPrecision(6)));
  const h = Array.from({ length: d }, (_, j) => (j === d - 1 ? 0.2 * n : j % 7 === 0 ? 0.05 : 0));
  return { g, h, n };
}

/** POST /v1/signals from one client address (each address is its own network unless they share a /24). */
export function postFrom(server: VitrineServer, body: unknown, remoteAddress = '127.0.0.1', type = 'text/plain;charset=UTF-8') {
  return server.app.inject({
    method: 'POST',
    url: '/v1/signals',
    headers: { 'content-type': type },
    payload: typeof body === 'string' ? body : JSON.stringify(body),
    remoteAddress,
  });
}

/** A distinct /24 per honest device. */
export const honestAddress = (i: number) => `10.${(i >> 8) & 255}.${i & 255}.7`;
