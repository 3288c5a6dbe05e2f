/**
 * GET /v1/admin/report (issue #12), on PGlite and PostgreSQL: the admin guard; the JSON the
 * dashboard draws, from stored batches (arms, activities, OPE, segments, lineage, privacy,
 * pacing); and the k-threshold on every number about shoppers, with hostile small inputs (an
 * activity in k − 1 batches, a control arm below k, a handful of segment reports).
 */
import * as v from 'valibot';
import { afterEach, describe, expect, it } from 'vitest';
import type { ServerConfig } from '../src/config';
import { createServer, type VitrineServer } from '../src/http/server';
import { openDb, type Db } from '../src/store/db';
import type { AdminReport } from '../src/report/report';
import {
  SEED_VERSION,
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
const TOKEN = 'report-test-token-0123456789abcdef';
const AUTH = { authorization: `Bearer ${TOKEN}` };
const K = 5;

const Num = v.pipe(v.number(), v.finite());
const NumOrNull = v.nullable(Num);
const Interval = v.nullable(v.strictObject({ estimate: Num, low: Num, high: Num }));
const Arm = v.strictObject({
  suppressed: v.boolean(),
  batches: NumOrNull,
  impressions: NumOrNull,
  clicks: NumOrNull,
  ctr: NumOrNull,
  ctrLow: NumOrNull,
  ctrHigh: NumOrNull,
  rewardRate: NumOrNull,
  rewardLow: NumOrNull,
  rewardHigh: NumOrNull,
});
const Ope = v.nullable(
  v.strictObject({
    version: v.string(),
    events: Num,
    batches: Num,
    ipw: Num,
    snipw: Num,
    low: Num,
    high: Num,
    ipwLow: Num,
    ipwHigh: Num,
    interval: v.picklist(['normal', 'bootstrap']),
    ess: Num,
    warnings: v.array(v.string()),
  }),
);
const Decision = v.strictObject({
  at: Num,
  shadow: v.string(),
  current: v.string(),
  decision: v.string(),
  reason: v.string(),
  events: NumOrNull,
  networks: NumOrNull,
  currentValue: NumOrNull,
  shadowValue: NumOrNull,
  shadowCi: v.nullable(v.tuple([Num, Num])),
  differenceLower: NumOrNull,
  effectiveSampleSize: NumOrNull,
});
/** The report's shape, as the dashboard reads it. */
const ReportSchema = v.strictObject({
  generatedAt: Num,
  k: Num,
  storage: v.picklist(['pglite', 'postgres']),
  windowDays: Num,
  signalsPerHour: v.pipe(
    v.array(v.strictObject({ hour: Num, batches: NumOrNull, events: NumOrNull, suppressed: v.boolean() })),
    v.length(72),
  ),
  activities: v.array(
    v.strictObject({ id: v.string(), batches: Num, impressions: Num, clicks: Num, ctr: Num, ctrLow: Num, ctrHigh: Num, rewardRate: Num }),
  ),
  suppressedActivities: Num,
  lift: v.strictObject({
    vitrine: Arm,
    control: Arm,
    ctrLift: Interval,
    rewardLift: Interval,
    overTime: v.array(v.strictObject({ day: Num, vitrine: Arm, control: Arm, ctrLift: Interval })),
  }),
  ope: v.strictObject({ current: Ope, shadow: Ope }),
  segments: v.nullable(
    v.strictObject({
      policyVersion: v.string(),
      epsilon: Num,
      rows: v.array(
        v.strictObject({
          segment: v.string(),
          name: v.string(),
          activity: v.string(),
          batches: Num,
          impressions: Num,
          clicks: Num,
          ctr: Num,
          low: Num,
          high: Num,
        }),
      ),
      suppressed: Num,
      reports: NumOrNull,
    }),
  ),
  lineage: v.strictObject({
    versions: v.array(
      v.strictObject({
        version: v.string(),
        parent: v.nullable(v.string()),
        status: v.string(),
        round: NumOrNull,
        publishedAt: Num,
        promotedAt: NumOrNull,
      }),
    ),
    promotions: v.array(Decision),
    rejections: v.array(Decision),
  }),
  privacy: v.strictObject({
    epsilon: Num,
    delta: Num,
    windowDays: Num,
    perContribution: v.strictObject({ rho: Num, epsilon: Num }),
    contributionsPerWindow: Num,
    segmentEpsilon: NumOrNull,
  }),
  expectedGain: v.nullable(v.strictObject({ contributorsPerWindow: Num, shareOfCentralGain: Num, source: v.string() })),
  pacing: v.array(
    v.strictObject({
      activity: v.string(),
      metric: v.picklist(['impressions', 'redemptions']),
      perDay: Num,
      todayCount: NumOrNull,
      multiplier: Num,
    }),
  ),
});

const stores: [string, () => Promise<Db>][] = [
  ['embedded PGlite', () => openDb({})],
  ['PostgreSQL', async () => openDb({ databaseUrl: await resetPostgresSchema('report_endpoint') })],
];

describe.each(stores)('admin report on %s', (name, open) => {
  const skip = name === 'PostgreSQL' && !pgAvailable;
  if (skip) console.warn(`PostgreSQL report tests skipped: nothing answers at ${TEST_PG_URL} (set VITRINE_TEST_DATABASE_URL)`);
  let server: VitrineServer | undefined;
  const start = async (over: Partial<ServerConfig> = {}) => {
    const base = testConfig();
    server = await createServer(
      testConfig({ adminToken: TOKEN, privacy: { ...base.privacy, kThreshold: K }, policy: { cacheMs: 0, pacingIntervalMs: 0 }, ...over }),
      await open(),
    );
    return server;
  };
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });
  const report = async (s: VitrineServer): Promise<{ json: AdminReport; text: string }> => {
    const res = await s.app.inject({ url: '/v1/admin/report', headers: AUTH });
    expect(res.statusCode).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
    return { json: v.parse(ReportSchema, res.json()) as AdminReport, text: res.body };
  };
  const send = async (s: VitrineServer, body: Record<string, unknown>, i: number) => {
    const res = await postFrom(s, batch(body), honestAddress(i));
    expect(res.statusCode, res.body).toBe(202);
  };

  it.skipIf(skip)('needs the admin token; disabled without one', async () => {
    const s = await start();
    for (const headers of [{}, { authorization: 'Bearer not-the-token-at-all' }]) {
      expect((await s.app.inject({ url: '/v1/admin/report', headers })).statusCode).toBe(401);
    }
    await server!.close();
    const off = await start({ adminToken: undefined });
    expect((await off.app.inject({ url: '/v1/admin/report', headers: AUTH })).statusCode).toBe(403);
  });

  it.skipIf(skip)('reports arms, activities, OPE, lineage, privacy and pacing from stored batches, each number above k', async () => {
    const s = await start();
    const put = await s.app.inject({
      method: 'PUT',
      url: '/v1/admin/policy',
      headers: AUTH,
      payload: { rules: { pacing: [{ activity: 'bar-1d', metric: 'impressions', perDay: 1000 }] }, segments: [] },
    });
    expect(put.statusCode).toBe(200);
    // 12 batches: Vitrine events of bar-1d (every third clicked) and bar-2h; control events (c: 1) in 3 of them only.
    for (let i = 0; i < 12; i++) {
      const events = [event({ r: i % 3 === 0 ? 1 : 0 }), event({ a: 'bar-2h', s: 1, r: 0 })];
      if (i < 3) events.push(event({ a: 'bar-2h', s: 2, r: 1, c: 1 }));
      // A rare activity, in k − 1 batches: never named.
      if (i < K - 1) events.push(event({ a: 'coffee-house-2h', s: 3, r: 1 }));
      await send(s, { events }, i);
    }
    await s.writer.flush();
    const { json: r, text } = await report(s);
    expect(r.k).toBe(K);
    expect(r.activities.map((a) => [a.id, a.batches, a.impressions, a.clicks])).toEqual([
      ['bar-1d', 12, 12, 4],
      ['bar-2h', 12, 15, 3],
    ]);
    for (const a of r.activities) expect(a.ctrLow <= a.ctr && a.ctr <= a.ctrHigh).toBe(true);
    expect(r.suppressedActivities).toBe(1);
    expect(text).not.toContain('coffee-house-2h');
    // The control arm is in 3 < k batches: suppressed, and no lift.
    expect(r.lift.vitrine).toMatchObject({ suppressed: false, batches: 12, impressions: 28, clicks: 8 });
    expect(r.lift.control).toMatchObject({ suppressed: true, batches: null, impressions: null });
    expect(r.lift.ctrLift).toBeNull();
    expect(r.lift.overTime.length).toBeGreaterThanOrEqual(1);
    // OPE of the current model on its own logs: weights 1, IPW = SNIPW = the mean reward.
    expect(r.ope.current).toMatchObject({ version: SEED_VERSION, events: 31, batches: 12 });
    expect(r.ope.current!.ipw).toBeCloseTo(11 / 31, 12);
    expect(r.ope.shadow).toBeNull();
    // This hour has 12 ≥ k batches; every released hour has at least k.
    const hour = r.signalsPerHour.at(-1)!;
    expect(hour).toMatchObject({ batches: 12, events: 31, suppressed: false });
    for (const h of r.signalsPerHour) expect(h.batches === 0 || h.batches === null || h.batches >= K).toBe(true);
    expect(r.lineage.versions.map((m) => [m.version, m.status])).toEqual([[SEED_VERSION, 'current']]);
    expect(r.privacy).toMatchObject({ epsilon: s.config.privacy.epsilon, segmentEpsilon: null });
    expect(r.pacing).toEqual([{ activity: 'bar-1d', metric: 'impressions', perDay: 1000, todayCount: 12, multiplier: expect.any(Number) }]);
    // Three more control batches reach k: the control arm and the lift appear.
    for (let i = 0; i < 2; i++) await send(s, { events: [event({ a: 'bar-2h', s: 2, r: 0, c: 1 })] }, 20 + i);
    await s.writer.flush();
    const more = (await report(s)).json;
    expect(more.lift.control).toMatchObject({ suppressed: false, batches: 5, impressions: 5, clicks: 3 });
    expect(more.lift.ctrLift!.estimate).toBeCloseTo(8 / 28 / (3 / 5) - 1, 12);
    expect(more.lift.ctrLift!.low).toBeLessThan(more.lift.ctrLift!.estimate);
  });

  it.skipIf(skip)('segment rows: a handful of randomized reports release nothing; many release debiased rows', async () => {
    const s = await start();
    const put = await s.app.inject({
      method: 'PUT',
      url: '/v1/admin/policy',
      headers: AUTH,
      payload: { rules: {}, segments: [COFFEE_LOVERS, NEWCOMERS] },
    });
    expect(put.statusCode).toBe(200);
    const version = (await s.app.inject({ url: '/v1/policy' })).json().version;
    const update = () => deviceUpdate((j) => Math.sin(j), 0.5);
    // Hostile small input: k − 1 batches all reporting "coffee lovers".
    for (let i = 0; i < K - 1; i++) await send(s, { events: [event({ r: 1 })], update: update(), seg: { v: version, i: 0 } }, i);
    await s.writer.flush();
    const few = (await report(s)).json;
    expect(few.segments).toMatchObject({ policyVersion: version, epsilon: 0.5, rows: [], reports: null });
    expect(few.segments!.suppressed).toBe(2);
    expect(few.privacy.segmentEpsilon).toBe(0.5);
    // 40 reports of "coffee lovers" for bar-1d, 20 of "none": estimated coffee lovers ≫ k.
    for (let i = 0; i < 60; i++) {
      await send(s, { events: [event({ r: i % 2 })], update: update(), seg: { v: version, i: i < 40 ? 0 : 2 } }, 100 + i);
    }
    await s.writer.flush();
    const many = (await report(s)).json;
    const rows = many.segments!.rows;
    expect(rows.map((row) => [row.segment, row.activity])).toEqual([['coffee-lovers', 'bar-1d']]);
    expect(rows[0].batches).toBeGreaterThanOrEqual(K);
    expect(rows[0].low).toBeLessThanOrEqual(rows[0].ctr);
    expect(rows[0].high).toBeGreaterThanOrEqual(rows[0].ctr);
    expect(many.segments!.reports).toBe(64);
  });

  it.skipIf(skip)(
    'OPE of the current and shadow models from the same logs; lineage with promotions and rejections and their evidence',
    async () => {
      const s = await start();
      const round = async (i0: number) => {
        const model = s.registry.getCurrent()!.version;
        for (let i = 0; i < 6; i++) await send(s, { model, update: deviceUpdate((j) => Math.sin(i0 + i + j)) }, i0 + i);
        const r = await s.aggregate();
        expect(r.status).toBe('published-shadow');
        return { model, shadow: r.candidate! };
      };
      const first = await round(0);
      // Devices log under the current model with the shadow's propensities: equal, so not worse.
      for (let i = 0; i < 20; i++) {
        const events = Array.from({ length: 5 }, (_, j) => event({ s: j % 3, p: 0.9, q: 0.9, r: (i + j) % 2 }));
        await send(s, { model: first.model, shadow: first.shadow, events }, 50 + i);
      }
      await s.writer.flush();
      const before = (await report(s)).json;
      expect(before.ope.current).toMatchObject({ version: first.model, events: 100, batches: 20 });
      expect(before.ope.shadow).toMatchObject({ version: first.shadow, events: 100, batches: 20 });
      expect(before.ope.shadow!.ipw).toBeCloseTo(before.ope.current!.ipw, 12);
      expect((await s.aggregate()).promotion?.decision).toBe('promoted');
      // A second shadow, clearly worse on the same kind of logs: rejected.
      const second = await round(100);
      for (let i = 0; i < 20; i++) {
        const events = Array.from({ length: 3 }, (_, j) => event({ s: j % 2, p: 0.9, q: 0.05, r: 1 }));
        await send(s, { model: second.model, shadow: second.shadow, events }, 150 + i);
      }
      expect((await s.aggregate()).promotion?.decision).toBe('rejected');
      const after = (await report(s)).json;
      expect(after.lineage.versions.map((m) => [m.version, m.status])).toEqual(
        expect.arrayContaining([
          [SEED_VERSION, 'retired'],
          [first.shadow, 'current'],
          [second.shadow, 'rejected'],
        ]),
      );
      expect(after.lineage.versions.find((m) => m.version === first.shadow)).toMatchObject({ parent: SEED_VERSION, round: 1 });
      expect(after.lineage.promotions).toEqual([
        expect.objectContaining({ shadow: first.shadow, current: SEED_VERSION, decision: 'promoted', events: 100, networks: 20 }),
      ]);
      expect(after.lineage.promotions[0].shadowCi).toHaveLength(2);
      expect(after.lineage.rejections).toEqual([
        expect.objectContaining({ shadow: second.shadow, current: first.shadow, decision: 'rejected', events: 60, networks: 20 }),
      ]);
      expect(after.lineage.rejections[0].shadowValue).toBeLessThan(after.lineage.rejections[0].currentValue!);
    },
  );
});
