import { test, expect, init, CATALOG, type TestWindow } from './fixtures';
import { SERVER_PORT } from './playwright.config';
import type { Page } from '@playwright/test';

const ENDPOINT = `http://127.0.0.1:${SERVER_PORT}/v1`;

/** Bodies of the signal batches a page posts. */
function signalBodies(page: Page): { id: string; events: unknown[]; update?: unknown }[] {
  const bodies: { id: string; events: unknown[]; update?: unknown }[] = [];
  page.on('request', (r) => {
    if (r.method() === 'POST' && r.url().endsWith('/v1/signals')) bodies.push(JSON.parse(r.postData()!));
  });
  return bodies;
}

const clickFirst = (page: Page) =>
  page.evaluate(async (catalog) => {
    const v = (window as unknown as TestWindow).__v;
    const d = await v.rank(catalog, { context: { destination: 'Home', weather: 'Sunny' }, slots: 2 });
    await v.track(d.id, d.items[0].id, 'click');
  }, CATALOG);

test('two tabs of one shopper: one update between them, no batch sealed under a live tab, no event lost', async ({ context }) => {
  const a = await context.newPage();
  const b = await context.newPage();
  const fromA = signalBodies(a);
  const fromB = signalBodies(b);
  // The server's current model (another test may have promoted one): updates are asked for that version only.
  const options = {
    consent: 'signals',
    holdout: false,
    endpoint: ENDPOINT,
    model: `${ENDPOINT}/models/current`,
    backend: 'wasm',
    user: { age: '26' },
    // The e2e server runs QA privacy (rounds of one network, a huge epsilon): floors loosened as the QA shop does.
    privacyFloors: { maxEpsilon: 1e9, minCohort: 1, minKThreshold: 1 },
  };
  await init(a, options);
  await clickFirst(a); // A opens a batch and charges the device's one update for this interval
  await init(b, options); // B starts while A's batch is open: it must leave it alone
  await clickFirst(b);
  await clickFirst(a);
  await b.evaluate(() => (window as unknown as TestWindow).__v.flush());
  await a.evaluate(() => (window as unknown as TestWindow).__v.flush());
  await expect.poll(() => fromA.length + fromB.length).toBe(2);
  const all = [...fromA, ...fromB];
  // A's batch holds both of A's events (B did not seal it halfway), B's its own one.
  expect(fromA.map((x) => x.events.length)).toEqual([2]);
  expect(fromB.map((x) => x.events.length)).toEqual([1]);
  expect(new Set(all.map((x) => x.id)).size).toBe(2);
  // One update per device per interval, across tabs: only the first batch to open carries one.
  expect(all.filter((x) => x.update).map((x) => x.id)).toEqual([fromA[0].id]);
  const report = await b.evaluate(() => (window as unknown as TestWindow).__v.privacyReport());
  expect(report.consent === 'signals' && report.spent?.contributions).toBe(1);
});
