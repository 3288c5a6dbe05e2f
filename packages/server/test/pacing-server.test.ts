/**
 * Pacing on the server (issue #12), on PGlite and PostgreSQL: GET /v1/policy publishes each
 * budget's multiplier from today's stored signals, and only once today's batches with the activity
 * reach k; before that the multiplier is the previous one and the admin tables show no count.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ServerConfig } from '../src/config';
import { createServer, type VitrineServer } from '../src/http/server';
import { openDb, type Db } from '../src/store/db';
import {
  honestAddress,
  postFrom,
  postgresReachable,
  resetPostgresSchema,
  signalBatch as batch,
  signalEvent as event,
  TEST_PG_URL,
  testConfig,
} from './helpers';

const pgAvailable = await postgresReachable();
const TOKEN = 'pacing-test-token-0123456789abcdef';
const AUTH = { authorization: `Bearer ${TOKEN}` };
const K = 5;

const stores: [string, () => Promise<Db>][] = [
  ['embedded PGlite', () => openDb({})],
  ['PostgreSQL', async () => openDb({ databaseUrl: await resetPostgresSchema('pacing_server') })],
];

describe.each(stores)('pacing multipliers on %s', (name, open) => {
  const skip = name === 'PostgreSQL' && !pgAvailable;
  if (skip) console.warn(`PostgreSQL pacing tests skipped: nothing answers at ${TEST_PG_URL} (set VITRINE_TEST_DATABASE_URL)`);
  let server: VitrineServer | undefined;
  const start = async (over: Partial<ServerConfig> = {}) => {
    const base = testConfig();
    server = await createServer(
      testConfig({
        adminToken: TOKEN,
        privacy: { ...base.privacy, kThreshold: K },
        policy: { cacheMs: 0, pacingIntervalMs: 0 },
        ...over,
      }),
      await open(),
    );
    return server;
  };
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });
  const setBudgets = async (s: VitrineServer, pacing: unknown[]) => {
    const res = await s.app.inject({ method: 'PUT', url: '/v1/admin/policy', headers: AUTH, payload: { rules: { pacing }, segments: [] } });
    expect(res.statusCode).toBe(200);
  };
  const send = async (s: VitrineServer, n: number, events: () => Record<string, unknown>[]) => {
    for (let i = 0; i < n; i++) expect((await postFrom(s, batch({ events: events() }), honestAddress(i))).statusCode).toBe(202);
    await s.writer.flush();
  };
  const policy = async (s: VitrineServer) => (await s.app.inject({ url: '/v1/policy' })).json();
  const pacingRows = async (s: VitrineServer) => (await s.app.inject({ url: '/v1/admin/policy', headers: AUTH })).json().pacing;

  it.skipIf(skip)('multipliers move only once today’s batches with the activity reach k', async () => {
    const s = await start();
    await setBudgets(s, [{ activity: 'bar-1d', metric: 'impressions', perDay: 3 }]);
    // k − 1 batches with 2 impressions each: 8 impressions, far over the budget of 3, but below k batches.
    await send(s, K - 1, () => [event(), event({ s: 1 })]);
    const held = await policy(s);
    expect(held.pacing).toEqual({ 'bar-1d': 1 });
    expect(await pacingRows(s)).toEqual([{ activity: 'bar-1d', metric: 'impressions', perDay: 3, todayCount: null, multiplier: 1 }]);
    // Other activities do not count towards bar-1d's k.
    await send(s, 3, () => [event({ a: 'bar-2h' })]);
    expect((await policy(s)).pacing).toEqual({ 'bar-1d': 1 });
    // The k-th batch: today's 10 impressions are used; the budget is spent, the activity stops.
    await send(s, 1, () => [event(), event({ s: 1 })]);
    const spent = await policy(s);
    expect(spent.pacing).toEqual({ 'bar-1d': 0 });
    expect(spent.version).not.toBe(held.version);
    expect(await pacingRows(s)).toEqual([{ activity: 'bar-1d', metric: 'impressions', perDay: 3, todayCount: 10, multiplier: 0 }]);
  });

  it.skipIf(skip)('redemptions count events with reward 1; an activity with two budgets gets the smaller multiplier', async () => {
    const s = await start();
    await setBudgets(s, [
      { activity: 'bar-1d', metric: 'redemptions', perDay: 100 },
      { activity: 'bar-1d', metric: 'impressions', perDay: 1_000_000 },
    ]);
    await send(s, K, () => [event({ r: 1 }), event({ s: 1, r: 0 })]);
    const rows = await pacingRows(s);
    expect(rows.map((r: { metric: string; todayCount: number }) => [r.metric, r.todayCount])).toEqual([
      ['redemptions', K],
      ['impressions', 2 * K],
    ]);
    const [redemptions, impressions] = rows.map((r: { multiplier: number }) => r.multiplier);
    // Budget left: some multiplier in (0, 1] for each; the policy publishes the smaller.
    expect(redemptions).toBeGreaterThan(0);
    expect((await policy(s)).pacing['bar-1d']).toBe(Number(Math.min(redemptions, impressions).toFixed(4)));
  });

  it.skipIf(skip)('steps at most once per interval: a second read inside it serves the same multiplier and version', async () => {
    const s = await start({ policy: { cacheMs: 0, pacingIntervalMs: 3_600_000 } });
    await setBudgets(s, [{ activity: 'bar-1d', metric: 'impressions', perDay: 3 }]);
    const first = await policy(s);
    await send(s, K, () => [event(), event({ s: 1 })]);
    const second = await policy(s);
    expect(second.pacing).toEqual(first.pacing);
    expect(second.version).toBe(first.version);
  });
});
