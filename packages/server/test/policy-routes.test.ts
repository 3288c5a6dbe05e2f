/**
 * Policy publication (issue #12), on PGlite and PostgreSQL: the admin API stores the merchant's
 * rules and segments (checked with the shared schemas; hostile bodies are 400s naming the field,
 * never 5xx), GET /v1/policy serves them to every device as a PolicyDocument with a version that
 * changes with them, cached briefly, cross-origin; VITRINE_POLICY_FILE seeds a store that has none.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import * as v from 'valibot';
import { afterEach, describe, expect, it } from 'vitest';
import { PolicyDocumentSchema, type Rules } from '@vitrine/core/policy';
import type { ServerConfig } from '../src/config';
import { createServer, type VitrineServer } from '../src/http/server';
import { openDb, type Db } from '../src/store/db';
import { postgresReachable, resetPostgresSchema, TEST_PG_URL, testConfig } from './helpers';
import { COFFEE_LOVERS, NEWCOMERS } from './policy-fixtures';

const pgAvailable = await postgresReachable();
const TOKEN = 'policy-test-token-0123456789abcdef';
const AUTH = { authorization: `Bearer ${TOKEN}` };

const RULES: Rules = {
  exclude: [{ activity: 'bar-2h' }],
  target: [{ activity: 'coffee-house-1d', segments: ['coffee-lovers'] }],
  caps: [{ match: { type: 'coupon' }, maxViews: 3, perHours: 24 }],
  pacing: [{ activity: 'bar-1d', metric: 'impressions', perDay: 500 }],
  diversity: { maxPerType: 2, lambda: 0.7 },
};

const stores: [string, () => Promise<Db>][] = [
  ['embedded PGlite', () => openDb({})],
  ['PostgreSQL', async () => openDb({ databaseUrl: await resetPostgresSchema('policy_routes') })],
];

describe.each(stores)('policy publication on %s', (name, open) => {
  const skip = name === 'PostgreSQL' && !pgAvailable;
  if (skip) console.warn(`PostgreSQL policy tests skipped: nothing answers at ${TEST_PG_URL} (set VITRINE_TEST_DATABASE_URL)`);
  let server: VitrineServer | undefined;
  const start = async (over: Partial<ServerConfig> = {}) => {
    server = await createServer(testConfig({ adminToken: TOKEN, policy: { cacheMs: 0, pacingIntervalMs: 0 }, ...over }), await open());
    return server;
  };
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });
  const put = (s: VitrineServer, body: unknown, headers: Record<string, string> = AUTH) =>
    s.app.inject({
      method: 'PUT',
      url: '/v1/admin/policy',
      headers: { 'content-type': 'application/json', ...headers },
      payload: typeof body === 'string' ? body : JSON.stringify(body),
    });
  const policyDoc = async (s: VitrineServer) => {
    const res = await s.app.inject({ url: '/v1/policy', headers: { origin: 'https://shop.example' } });
    expect(res.statusCode).toBe(200);
    return { res, doc: v.parse(PolicyDocumentSchema, res.json()) };
  };

  it.skipIf(skip)('serves an empty, valid policy before any is set: cacheable, cross-origin, 304 on its ETag', async () => {
    const s = await start({ policy: { cacheMs: 30_000, pacingIntervalMs: 0 } });
    const { res, doc } = await policyDoc(s);
    expect(doc).toMatchObject({ format: 'vitrine-policy@1', rules: {}, segments: [], pacing: {} });
    expect(doc.version).toMatch(/^p-[0-9a-f]{16}$/);
    expect(res.headers['cache-control']).toBe('public, max-age=30');
    expect(res.headers['access-control-allow-origin']).toBe('*');
    expect(res.headers.etag).toBe(`"${doc.version}"`);
    const again = await s.app.inject({ url: '/v1/policy', headers: { 'if-none-match': String(res.headers.etag) } });
    expect(again.statusCode).toBe(304);
  });

  it.skipIf(skip)('stores rules and segments from the admin API and publishes them under a new version', async () => {
    const s = await start();
    const before = (await policyDoc(s)).doc;
    const res = await put(s, { rules: RULES, segments: [COFFEE_LOVERS, NEWCOMERS] });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ rules: RULES, segments: [COFFEE_LOVERS, NEWCOMERS], source: 'admin', warnings: [] });
    expect(typeof body.updatedAt).toBe('number');
    const { doc } = await policyDoc(s);
    expect(doc.version).not.toBe(before.version);
    expect(doc.rules).toEqual(RULES);
    expect(doc.segments).toEqual([COFFEE_LOVERS, NEWCOMERS]);
    // No signals yet: the budget's multiplier is 1 (nothing counted; below k).
    expect(doc.pacing).toEqual({ 'bar-1d': 1 });
    expect(body.document.version).toBe(doc.version);
    // The same policy again: the same version (it names content, not time).
    expect((await put(s, { rules: RULES, segments: [COFFEE_LOVERS, NEWCOMERS] })).json().document.version).toBe(doc.version);
    const read = await s.app.inject({ url: '/v1/admin/policy', headers: AUTH });
    expect(read.statusCode).toBe(200);
    expect(read.json()).toMatchObject({ rules: RULES, segments: [COFFEE_LOVERS, NEWCOMERS], document: { version: doc.version } });
    // Removing the segments changes the version again.
    expect((await put(s, { rules: { exclude: [{ activity: 'bar-2h' }] }, segments: [] })).json().document.version).not.toBe(doc.version);
  });

  it.skipIf(skip)('admin routes need the token; without a configured one they are disabled', async () => {
    const s = await start();
    const refused: Record<string, string>[] = [{}, { authorization: 'Bearer wrong-token-wrong-token' }, { authorization: TOKEN }];
    for (const headers of refused) {
      expect((await put(s, { rules: {}, segments: [] }, headers)).statusCode).toBe(401);
      expect((await s.app.inject({ url: '/v1/admin/policy', headers })).statusCode).toBe(401);
    }
    await server!.close();
    const open = await start({ adminToken: undefined });
    expect((await put(open, { rules: {}, segments: [] }, AUTH)).statusCode).toBe(403);
    // Nothing was stored by the refused calls.
    expect((await policyDoc(open)).doc.rules).toEqual({});
  });

  it.skipIf(skip)('refuses hostile bodies with a 400 naming the field, and stores nothing', async () => {
    const s = await start();
    const deep = (n: number): unknown => (n === 0 ? { inactiveDays: 3 } : { not: deep(n - 1) });
    const cases: [unknown, string][] = [
      ['[1,2]', 'body'],
      ['"rules"', 'body'],
      ['null', 'body'],
      [{ rules: {} }, 'segments'],
      [{ segments: [] }, 'rules'],
      [{ rules: {}, segments: [], extra: 1 }, 'extra'],
      [{ rules: { pacing: [{ activity: 'bar-1d', metric: 'impressions', perDay: -5 }] }, segments: [] }, 'rules.pacing.0.perDay'],
      [{ rules: { pacing: [{ activity: 'bar-1d', metric: 'clicks', perDay: 5 }] }, segments: [] }, 'rules.pacing.0.metric'],
      [{ rules: { pacing: [{ activity: 'bar 1d!', metric: 'impressions', perDay: 5 }] }, segments: [] }, 'rules.pacing.0.activity'],
      [{ rules: { pacing: [{ activity: 'bar-1d', metric: 'impressions', perDay: '5' }] }, segments: [] }, 'rules.pacing.0.perDay'],
      [{ rules: { boost: [{ match: {}, multiply: 1e9 }] }, segments: [] }, 'rules.boost.0.multiply'],
      [{ rules: { exclude: Array.from({ length: 65 }, () => ({ activity: 'x' })) }, segments: [] }, 'rules.exclude'],
      [{ rules: {}, segments: [COFFEE_LOVERS, COFFEE_LOVERS] }, 'segments'],
      [{ rules: {}, segments: [{ ...COFFEE_LOVERS, when: deep(8) }] }, 'segments.0.when'],
      [
        { rules: {}, segments: [{ ...COFFEE_LOVERS, when: { history: { attribute: 'no-equals-sign' } } }] },
        'segments.0.when.history.attribute',
      ],
      [{ rules: { target: [{ activity: 'bar-1d', segments: ['ghosts'] }] }, segments: [] }, 'rules.target.0.segments.0'],
      [{ rules: { pin: [{ activity: 'bar-1d', position: 0, segment: 'ghosts' }] }, segments: [COFFEE_LOVERS] }, 'rules.pin.0.segment'],
      [{ rules: { caps: [{ match: { segment: 'ghosts' }, maxViews: 1, perHours: 1 }] }, segments: [] }, 'rules.caps.0.match.segment'],
      [
        {
          rules: {
            pacing: [
              { activity: 'bar-1d', metric: 'impressions', perDay: 5 },
              { activity: 'bar-1d', metric: 'impressions', perDay: 9 },
            ],
          },
          segments: [],
        },
        'rules.pacing.1',
      ],
    ];
    for (const [body, field] of cases) {
      const res = await put(s, body);
      expect(res.statusCode, JSON.stringify(body).slice(0, 120)).toBe(400);
      expect(res.json().field, JSON.stringify(body).slice(0, 120)).toBe(field);
      expect(res.json().error.length).toBeLessThan(400);
    }
    // Not JSON, prototype keys, a body above the limit.
    expect((await put(s, '{"rules": {')).statusCode).toBe(400);
    expect((await put(s, '{"rules": {}, "segments": [], "__proto__": {"admin": true}}')).statusCode).toBe(400);
    expect((await put(s, JSON.stringify({ rules: {}, segments: [], pad: 'x'.repeat(70_000) }))).statusCode).toBe(413);
    expect((await policyDoc(s)).doc.rules).toEqual({});
  });

  it.skipIf(skip)('never answers a random body with a 5xx', async () => {
    const s = await start();
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.jsonValue({ maxDepth: 4 }),
          fc.record({ rules: fc.jsonValue({ maxDepth: 4 }), segments: fc.jsonValue({ maxDepth: 4 }) }),
          fc.record({
            rules: fc.record({ pacing: fc.array(fc.record({ activity: fc.string(), metric: fc.string(), perDay: fc.double() })) }),
            segments: fc.array(fc.record({ id: fc.string(), name: fc.string(), when: fc.jsonValue({ maxDepth: 3 }) })),
          }),
        ),
        async (body) => {
          const res = await put(s, JSON.stringify(body));
          expect(res.statusCode).toBeLessThan(500);
        },
      ),
      { numRuns: 150, seed: 12 },
    );
  });

  it.skipIf(skip)('warns when a budget names an activity outside the current catalog (its signals never arrive)', async () => {
    const s = await start();
    const res = await put(s, { rules: { pacing: [{ activity: 'flash-sale-7', metric: 'redemptions', perDay: 50 }] }, segments: [] });
    expect(res.statusCode).toBe(200);
    expect(res.json().warnings).toEqual([expect.stringContaining('"flash-sale-7" is not in the current model')]);
  });

  it.skipIf(skip)('VITRINE_POLICY_FILE seeds a store without a policy, never replaces one, and a bad file stops the start', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vitrine-policy-'));
    const file = join(dir, 'demo-policy.json');
    writeFileSync(file, JSON.stringify({ rules: RULES, segments: [COFFEE_LOVERS] }));
    const db = await open();
    const first = await createServer(testConfig({ policyFile: file, policy: { cacheMs: 0, pacingIntervalMs: 0 } }), db);
    try {
      const doc = v.parse(PolicyDocumentSchema, (await first.app.inject({ url: '/v1/policy' })).json());
      expect(doc.rules).toEqual(RULES);
      expect((await first.policies.stored())?.source).toBe('file:demo-policy.json');
      // An admin's change stands over the file on the next start.
      await first.policies.replace({ rules: {}, segments: [] }, 'admin');
    } finally {
      await first.app.close();
      await first.writer.flush();
    }
    const second = await createServer(testConfig({ policyFile: file, policy: { cacheMs: 0, pacingIntervalMs: 0 } }), db);
    try {
      expect((await second.policies.stored())?.source).toBe('admin');
    } finally {
      await second.close();
    }
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ rules: { pacing: [{ activity: 'bar-1d', metric: 'impressions', perDay: 0 }] }, segments: [] }));
    await expect(createServer(testConfig({ policyFile: bad }), await openDb({}))).rejects.toThrow(/bad\.json: rules\.pacing\.0\.perDay/);
  });
});
