/**
 * The holdout arm (`c`) and segment reports (`seg`) at ingest (issue #12), on PGlite and
 * PostgreSQL: both are stored as sent; hostile values are refused by the shared wire schema or,
 * for a report, by the policy versions this server served; /v1/privacy asks for segment reports
 * (and charges them) only while the policy has segments.
 */
import * as v from 'valibot';
import { afterEach, describe, expect, it } from 'vitest';
import { PrivacySchema } from '@vitrine/core/protocol';
import type { ServerConfig } from '../src/config';
import { createServer, type VitrineServer } from '../src/http/server';
import { mechanism, segmentReportRho } from '../src/mechanism';
import { openDb, type Db } from '../src/store/db';
import {
  deviceUpdate,
  honestAddress,
  postFrom,
  postgresReachable,
  resetPostgresSchema,
  signalBatch as batch,
  signalEvent as event,
  TEST_PG_URL,
  testConfig,
} from './helpers';
import { COFFEE_LOVERS, NEWCOMERS } from './policy-fixtures';

const pgAvailable = await postgresReachable();
const TOKEN = 'ingest-test-token-0123456789abcdef';

const stores: [string, () => Promise<Db>][] = [
  ['embedded PGlite', () => openDb({})],
  ['PostgreSQL', async () => openDb({ databaseUrl: await resetPostgresSchema('policy_ingest') })],
];

describe.each(stores)('holdout arm and segment reports at ingest on %s', (name, open) => {
  const skip = name === 'PostgreSQL' && !pgAvailable;
  if (skip) console.warn(`PostgreSQL ingest tests skipped: nothing answers at ${TEST_PG_URL} (set VITRINE_TEST_DATABASE_URL)`);
  let server: VitrineServer | undefined;
  const start = async (over: Partial<ServerConfig> = {}) => {
    server = await createServer(testConfig({ adminToken: TOKEN, policy: { cacheMs: 0, pacingIntervalMs: 0 }, ...over }), await open());
    return server;
  };
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });
  const withSegments = async (s: VitrineServer) => {
    const res = await s.app.inject({
      method: 'PUT',
      url: '/v1/admin/policy',
      headers: { authorization: `Bearer ${TOKEN}` },
      payload: { rules: {}, segments: [COFFEE_LOVERS, NEWCOMERS] },
    });
    expect(res.statusCode).toBe(200);
    putWarnings = res.json().warnings;
    return (await s.app.inject({ url: '/v1/policy' })).json().version as string;
  };
  let putWarnings: string[] = [];
  const update = () => deviceUpdate((j) => Math.cos(j), 0.5);
  const privacy = async (s: VitrineServer) => v.parse(PrivacySchema, (await s.app.inject({ url: '/v1/privacy' })).json());

  it.skipIf(skip)('stores c on events and seg on batches as sent', async () => {
    const s = await start();
    const version = await withSegments(s);
    const sent = batch({ events: [event({ c: 1 }), event({ a: 'bar-2h', r: 0 })], update: update(), seg: { v: version, i: 2 } });
    expect((await postFrom(s, sent, honestAddress(1))).statusCode).toBe(202);
    await s.writer.flush();
    const [row] = await s.db.query<{ events: unknown; seg_policy: string; seg_index: number }>(
      'select events, seg_policy, seg_index from batches where id = $1',
      [sent.id],
    );
    const events = typeof row.events === 'string' ? JSON.parse(row.events) : row.events;
    expect(events.map((e: { c?: number }) => e.c)).toEqual([1, undefined]);
    expect(row.seg_policy).toBe(version);
    expect(Number(row.seg_index)).toBe(2);
  });

  it.skipIf(skip)('refuses hostile arm and segment values (shared schema, then the served versions)', async () => {
    const s = await start();
    const version = await withSegments(s);
    const cases: [Record<string, unknown>, string][] = [
      [{ events: [event({ c: 2 })] }, 'events.0.c'],
      [{ events: [event({ c: true })] }, 'events.0.c'],
      [{ events: [event({ c: 0 })] }, 'events.0.c'],
      [{ seg: { v: version, i: 1 } }, 'seg'], // a report rides only with an update
      [{ update: update(), seg: { v: version, i: -1 } }, 'seg.i'],
      [{ update: update(), seg: { v: version, i: 1.5 } }, 'seg.i'],
      [{ update: update(), seg: { v: version, i: 65 } }, 'seg.i'],
      [{ update: update(), seg: { v: version, i: 3 } }, 'seg.i'], // 2 segments + "none" = 3 categories
      [{ update: update(), seg: { v: 'p-0000000000000000', i: 0 } }, 'seg.v'],
      [{ update: update(), seg: { v: 'bad version!', i: 0 } }, 'seg.v'],
      [{ update: update(), seg: { v: version, i: 0, extra: 1 } }, 'seg.extra'],
      [{ update: update(), seg: { v: version } }, 'seg.i'],
    ];
    for (const [over, field] of cases) {
      const res = await postFrom(s, batch(over), honestAddress(2));
      expect(res.statusCode, JSON.stringify(over).slice(0, 100)).toBe(400);
      expect(res.json().field, JSON.stringify(over).slice(0, 100)).toBe(field);
    }
    await s.writer.flush();
    expect(Number((await s.db.query<{ n: number }>('select count(*)::int as n from batches'))[0].n)).toBe(0);
  });

  it.skipIf(skip)('a version served without segments asks for no reports: a report naming it is refused', async () => {
    const s = await start();
    const plain = (await s.app.inject({ url: '/v1/policy' })).json().version;
    const res = await postFrom(s, batch({ update: update(), seg: { v: plain, i: 0 } }), honestAddress(3));
    expect(res.statusCode).toBe(400);
    expect(res.json().field).toBe('seg.v');
  });

  it.skipIf(skip)('/v1/privacy asks for segment reports, and charges them, only while the policy has segments', async () => {
    const s = await start();
    const mech = mechanism(s.config.privacy);
    const before = await privacy(s);
    expect(before.update.segmentEpsilon).toBeUndefined();
    expect(before.update.rhoPerContribution).toBe(mech.rhoPerContribution);
    await withSegments(s);
    const after = await privacy(s);
    expect(after.update.segmentEpsilon).toBe(0.5);
    expect(after.update.rhoPerContribution).toBeCloseTo(mech.rhoPerContribution + segmentReportRho(0.5), 12);
    expect(after.update.rhoPerContribution - mech.rhoPerContribution).toBeGreaterThan(0.5 ** 2 / 2); // more than ε²/2: see reportRho
    const stats = (await s.app.inject({ url: '/v1/stats' })).json();
    expect(stats.budget.perContribution.rho).toBeCloseTo(after.update.rhoPerContribution, 12);
  });

  it.skipIf(skip)(
    'VITRINE_SEGMENT_EPSILON 0, or one the budget cannot hold, turns reports off: none asked for, none accepted',
    async () => {
      const base = testConfig().privacy;
      for (const privacyConfig of [
        { ...base, segmentEpsilon: 0 },
        { ...base, epsilon: 8, segmentEpsilon: 3 },
      ]) {
        const s = await start({ privacy: privacyConfig });
        const version = await withSegments(s);
        // The merchant is told why when the configured ε cannot be held.
        expect(putWarnings).toEqual(privacyConfig.segmentEpsilon ? [expect.stringMatching(/segment reports are off/)] : []);
        expect((await privacy(s)).update.segmentEpsilon).toBeUndefined();
        const res = await postFrom(s, batch({ update: update(), seg: { v: version, i: 0 } }), honestAddress(4));
        expect(res.json().field).toBe('seg.v');
        await s.close();
        server = undefined;
      }
    },
  );
});
