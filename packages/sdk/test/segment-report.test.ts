import 'fake-indexeddb/auto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, openDb, type VitrineServer } from '@vitrine/server';
import { testConfig } from '@vitrine/server/testing';
import { COUPON_CATALOG } from '@vitrine/models/datasets/coupons';
import { PolicyDocumentSchema, primarySegmentIndex, reportRho, responseProbabilities } from '@vitrine/core/policy';
import { PrivacySchema } from '@vitrine/core/protocol';
import * as v from 'valibot';
import { createVitrine, type Activity } from '../src/index';
import { MemoryOutbox } from '../src/signals/outbox';

const ADMIN = 'segment-report-test-admin-token-0123456789';
const QA_FLOORS = { maxEpsilon: Infinity, minCohort: 1, minKThreshold: 1 };
const activities: Activity[] = COUPON_CATALOG;
const context = { destination: 'Work', weather: 'Sunny', time: '7AM' };
const segments = [
  { id: 'coffee-lovers', name: 'Coffee lovers', when: { history: { type: 'Coffee House', minAnswers: 1, minAcceptance: 0.5 } } },
  { id: 'new', name: 'New', when: { history: { maxAnswers: 0 } } },
];

let server: VitrineServer;
let base: string;
const posted: Record<string, unknown>[] = [];
const realFetch = globalThis.fetch;

async function serverWith(segmentEpsilon: number) {
  const config = testConfig({ adminToken: ADMIN, privacy: { ...testConfig().privacy, minCohort: 1, segmentEpsilon } });
  const s = await createServer(config, await openDb({}));
  const url = await s.app.listen({ port: 0, host: '127.0.0.1' });
  const put = await realFetch(`${url}/v1/admin/policy`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ rules: {}, segments }),
  });
  expect(put.status).toBe(200);
  return { s, url };
}

beforeAll(async () => {
  // ε = 30: the report is the truth with probability 1 − 2e-13, so the test can check what it says.
  ({ s: server, url: base } = await serverWith(30));
  globalThis.fetch = (async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const url = String(input instanceof Request ? input.url : input);
    if (url.endsWith('/v1/signals') && typeof init.body === 'string') posted.push(JSON.parse(init.body));
    return realFetch(input, init);
  }) as typeof fetch;
});
afterAll(async () => {
  globalThis.fetch = realFetch;
  await server.close();
});

describe('segment reports', () => {
  it('the server publishes the segments and prices the report into each contribution', async () => {
    const doc = v.parse(PolicyDocumentSchema, await (await realFetch(`${base}/v1/policy`)).json());
    expect(doc.segments.map((s) => s.id)).toEqual(['coffee-lovers', 'new']);
    const params = v.parse(PrivacySchema, await (await realFetch(`${base}/v1/privacy`)).json());
    expect(params.update.segmentEpsilon).toBe(30);
    expect(params.update.rhoPerContribution).toBeGreaterThanOrEqual(reportRho(30));
  });

  it('a batch with an update carries the randomized segment; the true one never leaves otherwise', async () => {
    const vitrine = await createVitrine(
      {
        model: `${base}/v1/models/current`,
        endpoint: `${base}/v1`,
        consent: 'signals',
        backend: 'cpu',
        storage: 'memory',
        holdout: false,
        privacyFloors: QA_FLOORS,
      },
      { outbox: new MemoryOutbox(), flushDelayMs: 3_600_000 },
    );
    const coffee = activities.find((a) => a.type === 'Coffee House')!;
    // On the device: the shopper is 'new' before any answer, a coffee lover after accepting a coffee offer.
    expect((await vitrine.segments()).map((s) => s.id)).toEqual(['new']);
    const d = await vitrine.rank(activities, { context });
    await vitrine.track(d.id, coffee.id, 'click');
    expect((await vitrine.segments()).map((s) => s.id)).toEqual(['coffee-lovers']);
    await vitrine.flush();
    const withUpdate = posted.filter((b) => b.update);
    expect(withUpdate).toHaveLength(1);
    const doc = v.parse(PolicyDocumentSchema, await (await realFetch(`${base}/v1/policy`)).json());
    // The batch opened when the click was tracked (after it reached the profile): the shopper was a coffee lover.
    const { aggregates, events } = await vitrine.exportProfile();
    const expected = primarySegmentIndex(doc.segments, { profile: aggregates, lastEventHour: events[0].hour, user: {}, now: Date.now() });
    expect(expected).toBe(0);
    expect(withUpdate[0].seg).toEqual({ v: doc.version, i: expected });
    // The report is one index: no segment id, no membership list, nothing else was added to the batch.
    expect(Object.keys(withUpdate[0]).sort()).toEqual(['events', 'format', 'id', 'model', 'seg', 'update']);
    expect(posted.filter((b) => !b.update).every((b) => !('seg' in b))).toBe(true);
    vitrine.close();
  });

  it('k-ary randomized response reports the truth with e^ε/(e^ε+m−1)', () => {
    const { truth, other } = responseProbabilities(3, Math.log(2));
    expect(truth).toBeCloseTo(0.5, 12);
    expect(other).toBeCloseTo(0.25, 12);
    expect(truth / other).toBeCloseTo(2, 12); // the ε-LDP ratio bound is tight
  });
});
