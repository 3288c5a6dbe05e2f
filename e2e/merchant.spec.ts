import { test, expect, init, CATALOG, MODEL, type TestWindow } from './fixtures';
import { SERVER_PORT } from './playwright.config';
import { activityAttributes, applyEvent, coarseHour, emptyAggregates, type ProfileEvent } from '@vitrine/core/features';
import { lastEventHour, segmentMemberships, type Segment } from '@vitrine/core/policy';
import { seededRandom } from '@vitrine/core/random';
import type { Outcome } from '@vitrine/core/domain';

const ENDPOINT = `http://127.0.0.1:${SERVER_PORT}/v1`;
const DAY = 86_400_000;
const NOW = Date.UTC(2026, 10, 24, 12);

/** Every kind of condition the merchant can write, including nesting. */
const SEGMENTS: Segment[] = [
  { id: 'new', name: 'New', when: { history: { maxAnswers: 0 } } },
  { id: 'coffee-lovers', name: 'Coffee lovers', when: { history: { type: 'Coffee House', minAnswers: 2, minAcceptance: 0.5 } } },
  { id: 'lapsed', name: 'Lapsed', when: { inactiveDays: 30 } },
  { id: 'short', name: 'Short deals', when: { history: { attribute: 'expiration=2h', minAnswers: 1, minAcceptance: 0.5 } } },
  { id: 'bar-avoiders', name: 'Bar avoiders', when: { history: { type: 'Bar', minAnswers: 1, maxAnswers: 3, minAcceptance: 0 } } },
  {
    id: 'young-active',
    name: 'Young, active',
    when: { all: [{ attribute: { key: 'age', min: 18, max: 30 } }, { not: { inactiveDays: 7 } }] },
  },
  { id: 'city', name: 'City', when: { any: [{ attribute: { key: 'city', in: ['Lyon', 'Paris'] } }, { history: { minAnswers: 6 } }] } },
];
const OUTCOMES: Outcome[] = ['view', 'click', 'dismiss', 'purchase', 'add_to_cart'];

interface Shopper {
  user: Record<string, string | number>;
  events: { activity: number; outcome: Outcome; at: number }[];
}

/** Seeded shoppers with histories of 0-9 events spread over the last 60 days. */
function shoppers(n: number, seed: number): Shopper[] {
  const random = seededRandom(seed);
  return Array.from({ length: n }, () => {
    const count = Math.floor(random() * 10);
    const events = Array.from({ length: count }, () => ({
      activity: Math.floor(random() * CATALOG.length),
      outcome: OUTCOMES[Math.floor(random() * OUTCOMES.length)],
      at: NOW - Math.floor(random() * 60 * DAY),
    })).sort((a, b) => a.at - b.at);
    const user: Shopper['user'] = {};
    if (random() < 0.7) user.age = 16 + Math.floor(random() * 40);
    if (random() < 0.5) user.city = ['Lyon', 'Paris', 'Nice'][Math.floor(random() * 3)];
    return { user, events };
  });
}

/** What Node computes with the shared module from the same events (as the SDK records them: coarse hours, attributes). */
function nodeMemberships(s: Shopper): string[] {
  const events: ProfileEvent[] = s.events.map((e) => {
    const a = CATALOG[e.activity];
    const attributes = activityAttributes(a.features);
    return { activityId: a.id, activityType: a.type, outcome: e.outcome, hour: coarseHour(e.at), ...(attributes ? { attributes } : {}) };
  });
  const profile = events.reduce(applyEvent, emptyAggregates());
  return segmentMemberships(SEGMENTS, { profile, lastEventHour: lastEventHour(events), user: s.user, now: NOW });
}

test('segment membership computed in Chromium matches Node for 30 generated shoppers', async ({ page }) => {
  test.setTimeout(120_000);
  const population = shoppers(30, 2026);
  await init(page, { storage: 'memory', backend: 'cpu' });
  const inBrowser = await page.evaluate(
    async ({ population, catalog, segments, model, now }) => {
      const w = window as unknown as TestWindow;
      w.__v.close();
      const out: string[][] = [];
      for (const s of population) {
        let clock = now;
        const v = await w.Vitrine.init({ model, storage: 'memory', backend: 'cpu', segments, user: s.user, now: () => clock });
        for (const e of s.events) {
          clock = e.at;
          const d = await v.rank([catalog[e.activity]]);
          await v.track(d.id, catalog[e.activity].id, e.outcome);
        }
        clock = now;
        out.push((await v.segments()).map((x) => x.id));
        v.close();
      }
      return out;
    },
    { population, catalog: CATALOG, segments: SEGMENTS, model: MODEL, now: NOW },
  );
  const inNode = population.map(nodeMemberships);
  expect(inBrowser).toEqual(inNode);
  // The population exercises every segment, and some shoppers are in none.
  for (const s of SEGMENTS)
    expect(
      inNode.some((m) => m.includes(s.id)),
      s.id,
    ).toBe(true);
  expect(inNode.some((m) => m.length === 0)).toBe(true);
});

test('frequency caps and redeemed offers survive a reload (the profile in IndexedDB)', async ({ page }) => {
  const rules = { caps: [{ match: { activity: CATALOG[0].id }, maxViews: 2, perHours: 24 }] };
  await init(page, { rules, backend: 'cpu' });
  await page.evaluate(
    async ({ catalog, capped, redeemed }) => {
      const v = (window as unknown as TestWindow).__v;
      for (let i = 0; i < 2; i++) {
        const d = await v.rank(catalog);
        await v.track(d.id, capped, 'view');
      }
      const d = await v.rank(catalog);
      await v.track(d.id, redeemed, 'purchase');
    },
    { catalog: CATALOG, capped: CATALOG[0].id, redeemed: CATALOG[3].id },
  );
  await page.reload();
  await init(page, { rules, backend: 'cpu' });
  const after = await page.evaluate(async (catalog) => (window as unknown as TestWindow).__v.rank(catalog), CATALOG);
  expect(after.items.map((i) => i.id)).not.toContain(CATALOG[0].id);
  expect(after.excluded).toEqual(
    expect.arrayContaining([
      { id: CATALOG[0].id, rule: 'cap' },
      { id: CATALOG[3].id, rule: 'hidden' },
    ]),
  );
  expect(after.items).toHaveLength(CATALOG.length - 2);
});

test('a sticky holdout arm stays with the device across reloads; forget() and consent none remove it', async ({ page }) => {
  const options = {
    model: `${ENDPOINT}/models/current`,
    endpoint: ENDPOINT,
    consent: 'signals',
    backend: 'cpu',
    holdout: { share: 0.5, sticky: true },
    privacyFloors: { maxEpsilon: Infinity, minCohort: 1, minKThreshold: 1 },
  };
  const arms = async () =>
    page.evaluate(async (catalog) => {
      const v = (window as unknown as TestWindow).__v;
      const out: (string | undefined)[] = [];
      for (let i = 0; i < 8; i++) out.push((await v.rank(catalog, { slots: 3 })).policy.arm);
      return out;
    }, CATALOG);
  await init(page, options);
  const first = await arms();
  expect(new Set(first).size).toBe(1);
  expect(['vitrine', 'control']).toContain(first[0]);
  // Stored on the device only: the key names no shopper and is never sent (signals carry c: 1 per event).
  expect(await page.evaluate(() => JSON.parse(localStorage.getItem('vitrine.holdout') ?? 'null'))).toEqual({ share: 0.5, arm: first[0] });
  await page.reload();
  await init(page, options);
  expect(await arms()).toEqual(first);
  await page.evaluate(() => (window as unknown as TestWindow).__v.forget());
  expect(await page.evaluate(() => localStorage.getItem('vitrine.holdout'))).toBeNull();
  // Consent 'none' keeps nothing on the device: the arm goes too.
  await arms();
  expect(await page.evaluate(() => localStorage.getItem('vitrine.holdout'))).not.toBeNull();
  await page.evaluate(() => (window as unknown as TestWindow).__v.setConsent('none'));
  expect(await page.evaluate(() => localStorage.getItem('vitrine.holdout'))).toBeNull();
});
