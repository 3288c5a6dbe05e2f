// The simulation runs the SDK once per distinct shopper and stores a shopper drawn m times as m
// copies of its bodies. This checks that this is what m real devices would do: two devices with
// the same history send bit-identical updates, and a round over copies stored through the
// writer equals a round over the same bodies posted from distinct networks.
import { describe, expect, it } from 'vitest';
import { parseBatch } from '@vitrine/core/protocol';
import { loadCoupons } from '@vitrine/models/training';
import { DEFAULT_RETENTION, MemoryOutbox, MemoryProfileStore, SIMULATION_PRIVACY_FLOORS, createVitrine } from '@vitrine/sdk/internals';
import { createServer, openDb, type VitrineServer } from '@vitrine/server';
import { randomBatchId, testConfig } from '@vitrine/server/testing';

const rows = loadCoupons('models/test/fixtures/coupons-fixture.csv');
const shopperRows = rows.filter((r) => r.respondent === rows[0].respondent);

/** Runs one device through the shopper's rows against `server`; returns the bodies it posted. */
async function device(server: VitrineServer, address: string): Promise<string[]> {
  const bodies: string[] = [];
  const original = globalThis.fetch;
  globalThis.fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(String(input));
    const res = await server.app.inject({
      method: (init?.method ?? 'GET') as 'GET' | 'POST',
      url: url.pathname,
      headers: Object.fromEntries(new Headers(init?.headers).entries()),
      payload: init?.body as string | undefined,
      remoteAddress: address,
    });
    if (url.pathname === '/v1/signals') bodies.push(init!.body as string);
    return new Response(new Uint8Array(res.rawPayload), { status: res.statusCode, headers: res.headers as Record<string, string> });
  }) as typeof fetch;
  try {
    const now = () => Date.now();
    const vitrine = await createVitrine(
      {
        model: 'http://shop.test/v1/models/current',
        endpoint: 'http://shop.test/v1',
        consent: 'signals',
        // As in the simulation (simulate.ts): every page view ranks with Vitrine, no holdout arm to draw.
        holdout: false,
        backend: 'cpu',
        storage: 'memory',
        user: shopperRows[0].user,
        now,
        privacyFloors: SIMULATION_PRIVACY_FLOORS, // a noiseless test server with a cohort of 3
      },
      { profileStore: new MemoryProfileStore(DEFAULT_RETENTION, now), outbox: new MemoryOutbox(), flushDelayMs: 3_600_000 },
    );
    for (const row of shopperRows) {
      const d = await vitrine.rank([row.activity], { context: row.context });
      await vitrine.track(d.id, row.activity.id, row.outcome);
    }
    await vitrine.flush();
    vitrine.close();
  } finally {
    globalThis.fetch = original;
  }
  return bodies;
}

const noiseless = () => testConfig({ privacy: { ...testConfig().privacy, noise: 'none', minCohort: 3 } });

describe('simulated copies of a shopper', () => {
  it('are what distinct devices with the same history send, and aggregate the same', async () => {
    const viaHttp = await createServer(noiseless(), await openDb({}));
    const [a, b, c] = [await device(viaHttp, '10.0.1.1'), await device(viaHttp, '10.0.2.1'), await device(viaHttp, '10.0.3.1')];
    const strip = (body: string) => ({ ...JSON.parse(body), id: '' });
    expect(a.length).toBeGreaterThan(0);
    expect(JSON.parse(a[0]).update.g.length).toBeGreaterThan(0);
    expect(b.map(strip)).toEqual(a.map(strip));
    expect(c.map(strip)).toEqual(a.map(strip));
    const httpRound = await viaHttp.aggregate();

    const viaWriter = await createServer(noiseless(), await openDb({}));
    const first = await device(viaWriter, '10.0.1.1');
    for (const network of ['copy-1', 'copy-2'])
      for (const body of first)
        await viaWriter.writer.write({ batch: { ...parseBatch(JSON.parse(body)), id: randomBatchId() }, network, bodyHash: network });
    const writerRound = await viaWriter.aggregate();
    expect(writerRound.cohort).toBe(3);
    expect(httpRound.cohort).toBe(3);
    expect(writerRound.candidate).toBe(httpRound.candidate);
    await viaHttp.close();
    await viaWriter.close();
  }, 120_000);
});
