/**
 * The fault matrix of the page (issue #10), in real Chromium. Every row ends the same way: no
 * page error and no unhandled rejection, public calls reject only with VitrineError, nothing
 * queued is lost, and personalization comes back once the fault goes away.
 */
import { readFileSync } from 'node:fs';
import type { Page } from '@playwright/test';
import { test, expect, init, CATALOG, MODEL, type TestWindow } from './fixtures';
import { SERVER_PORT } from './playwright.config';

const ENDPOINT = `http://127.0.0.1:${SERVER_PORT}/v1`;
/** The e2e server publishes QA privacy (rounds of one network, a huge epsilon): loosened as the QA shop does. */
const QA_FLOORS = { maxEpsilon: 1e9, minCohort: 1, minKThreshold: 1 };
const CORS = { 'access-control-allow-origin': '*' };
const SIGNALS = {
  consent: 'signals',
  holdout: false,
  endpoint: ENDPOINT,
  model: `${ENDPOINT}/models/current`,
  backend: 'wasm',
  privacyFloors: QA_FLOORS,
};

type FaultWindow = TestWindow & {
  __rejections: string[];
  /** Every native IndexedDB connection the page opened (to lose them on purpose). */
  __connections: IDBDatabase[];
  /** While true, every IndexedDB write throws QuotaExceededError. */
  __quotaFull: boolean;
};

/** Records unhandled rejections, keeps the page's IndexedDB connections, and can make writes fail as on a full disk. */
async function faultHooks(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const w = window as unknown as FaultWindow;
    w.__rejections = [];
    w.__connections = [];
    w.__quotaFull = false;
    window.addEventListener('unhandledrejection', (e) => w.__rejections.push(String(e.reason)));
    const open = IDBFactory.prototype.open;
    IDBFactory.prototype.open = function (this: IDBFactory, ...args: [string, number?]) {
      const request = open.apply(this, args);
      request.addEventListener('success', () => w.__connections.push(request.result));
      return request;
    };
    for (const method of ['put', 'add'] as const) {
      const original = IDBObjectStore.prototype[method];
      IDBObjectStore.prototype[method] = function (this: IDBObjectStore, ...args: [unknown, IDBValidKey?]) {
        if (w.__quotaFull) throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
        return original.apply(this, args);
      };
    }
  });
}

async function expectNoRejections(page: Page): Promise<void> {
  expect(await page.evaluate(() => (window as unknown as FaultWindow).__rejections)).toEqual([]);
}

/** Ranks the catalog and tracks `outcome` on every placed item; returns the decision's backend. Errors come back by name. */
const rankAndTrack = (page: Page, outcome = 'click', slots = 3) =>
  page.evaluate(
    async ({ catalog, outcome, slots }) => {
      const v = (window as unknown as TestWindow).__v;
      try {
        const d = await v.rank(catalog, { context: { destination: 'Home' }, slots });
        for (const item of d.items) await v.track(d.id, item.id, outcome as 'click');
        return { backend: d.backend, degraded: d.degraded ?? null, scores: d.items.map((i) => i.score), error: null };
      } catch (e) {
        return { backend: null, degraded: null, scores: [], error: `${(e as Error).name}: ${(e as Error).message}` };
      }
    },
    { catalog: CATALOG, outcome, slots },
  );

const flushAndReport = (page: Page) =>
  page.evaluate(async () => {
    const v = (window as unknown as TestWindow).__v;
    await v.flush();
    return v.privacyReport();
  });

const profileEvents = (page: Page) =>
  page.evaluate(async () => (await (window as unknown as TestWindow).__v.exportProfile()).events.length);

test('quota exceeded on write: every event kept, written once there is space, no error reaches the page', async ({ page }) => {
  test.setTimeout(90_000);
  await faultHooks(page);
  const status = await init(page, SIGNALS);
  expect(status.profile).toBe('indexeddb');
  expect((await rankAndTrack(page)).error).toBeNull();
  await page.evaluate(() => ((window as unknown as FaultWindow).__quotaFull = true));
  const during = await rankAndTrack(page);
  expect(during.error).toBeNull();
  expect(during.backend).toBe('wasm');
  expect(await page.evaluate(() => (window as unknown as TestWindow).__v.status.profile)).toBe('memory');
  expect(await profileEvents(page)).toBe(6);
  // Space again: the next event after the retry delay writes the ones kept in memory, in order.
  await page.evaluate(() => ((window as unknown as FaultWindow).__quotaFull = false));
  await page.waitForTimeout(5_500);
  expect((await rankAndTrack(page)).error).toBeNull();
  const after = await page.evaluate(() => (window as unknown as TestWindow).__v.status);
  expect(after.profile).toBe('indexeddb');
  expect(after.warnings.join(' ')).not.toMatch(/profile storage failed/);
  // Every signal event reached the server, the ones recorded while the outbox could not write included.
  const report = await flushAndReport(page);
  expect(report.consent === 'signals' && report.sent.events).toBe(9);
  await expectNoRejections(page);
  await page.reload();
  await init(page, SIGNALS);
  expect(await profileEvents(page)).toBe(9);
  await expectNoRejections(page);
});

test('forget() while writes fail still deletes the stored profile; the next event starts a fresh one', async ({ page }) => {
  await faultHooks(page);
  await init(page, { model: MODEL, backend: 'wasm' });
  expect((await rankAndTrack(page)).error).toBeNull();
  await page.evaluate(() => ((window as unknown as FaultWindow).__quotaFull = true));
  expect((await rankAndTrack(page)).error).toBeNull();
  const left = await page.evaluate(async () => {
    const v = (window as unknown as TestWindow).__v;
    await v.forget();
    return (await indexedDB.databases()).map((d) => d.name);
  });
  expect(left).not.toContain('vitrine');
  await page.evaluate(() => ((window as unknown as FaultWindow).__quotaFull = false));
  await page.waitForTimeout(5_500);
  expect((await rankAndTrack(page)).error).toBeNull();
  expect(await profileEvents(page)).toBe(3);
  await expectNoRejections(page);
});

test('lost connection: the profile and the signal outbox both reopen; nothing is lost', async ({ page }) => {
  await faultHooks(page);
  await init(page, SIGNALS);
  expect((await rankAndTrack(page)).error).toBeNull();
  // The browser drops every connection (what Safari does on "connection lost", or storage pressure).
  const closed = await page.evaluate(() => {
    const w = window as unknown as FaultWindow;
    w.__connections.forEach((db) => db.close());
    return w.__connections.map((db) => db.name);
  });
  expect(closed).toEqual(expect.arrayContaining(['vitrine', 'vitrine-signals']));
  expect((await rankAndTrack(page, 'add_to_cart')).error).toBeNull();
  const status = await page.evaluate(() => (window as unknown as TestWindow).__v.status);
  expect(status.profile).toBe('indexeddb');
  expect(await profileEvents(page)).toBe(6);
  const report = await flushAndReport(page);
  expect(report.consent === 'signals' && report.sent.events).toBe(6);
  expect(report.consent === 'signals' && report.storage).toBe('indexeddb');
  await expectNoRejections(page);
});

/** Writes records straight into the SDK's databases (created with its schema), as a broken browser or another script might. */
async function seed(
  page: Page,
  profile: { aggregates?: unknown; events?: unknown[] },
  outbox: { items?: unknown[]; ledger?: unknown } = {},
) {
  await page.goto('/e2e/blank.html');
  await page.evaluate(
    async ({ profile, outbox }) => {
      const open = (name: string, upgrade: (db: IDBDatabase) => void) =>
        new Promise<IDBDatabase>((resolve, reject) => {
          const req = indexedDB.open(name, 1);
          req.onupgradeneeded = () => upgrade(req.result);
          req.onsuccess = () => resolve(req.result);
          req.onerror = () => reject(req.error);
        });
      const done = (tx: IDBTransaction) => new Promise((r) => (tx.oncomplete = r));
      const p = await open('vitrine', (db) => {
        db.createObjectStore('events', { autoIncrement: true }).createIndex('hour', 'hour');
        db.createObjectStore('state');
      });
      const ptx = p.transaction(['events', 'state'], 'readwrite');
      for (const e of profile.events ?? []) ptx.objectStore('events').add(e);
      if (profile.aggregates !== undefined) ptx.objectStore('state').put(profile.aggregates, 'aggregates');
      await done(ptx);
      p.close();
      const s = await open('vitrine-signals', (db) => {
        db.createObjectStore('outbox', { keyPath: 'id' });
        db.createObjectStore('ledger');
      });
      const stx = s.transaction(['outbox', 'ledger'], 'readwrite');
      for (const item of outbox.items ?? []) stx.objectStore('outbox').put(item);
      if (outbox.ledger !== undefined) stx.objectStore('ledger').put(outbox.ledger, 'ledger');
      await done(stx);
      s.close();
    },
    { profile, outbox },
  );
}

const hourNow = () => Math.floor(Date.now() / 3_600_000) * 3_600_000;
const validEvent = (outcome: string) => ({ activityId: CATALOG[0].id, activityType: CATALOG[0].type, outcome, hour: hourNow() });
const junkCounts = { views: 'many', positives: -3, negatives: Infinity };

for (const [name, aggregates] of [
  ['a string', 'garbage'],
  ['a half-empty record', { schema: 1 }],
  ['junk counts', { schema: 1, total: junkCounts, byType: { Bar: junkCounts }, byActivity: {}, recent: [] }],
  [
    'a NaN-poisoned "constructor" entry',
    { schema: 1, total: { views: 0, positives: 1, negatives: 0 }, byType: {}, byActivity: { constructor: { views: NaN } }, recent: [] },
  ],
] as const) {
  test(`corrupt profile record (${name}): rebuilt from the event log, reported, and ranking stays personalized`, async ({ page }) => {
    await faultHooks(page);
    await seed(page, { aggregates, events: [validEvent('click'), { junk: true }, validEvent('dismiss')] });
    const status = await init(page, { model: MODEL, backend: 'wasm' });
    expect(status.profile).toBe('indexeddb');
    expect(status.warnings.join(' ')).toMatch(/stored profile was corrupt; rebuilt from the 2 events kept/);
    expect(status.warnings.join(' ')).toMatch(/1 corrupt profile event deleted/);
    const d = await rankAndTrack(page, 'click', CATALOG.length);
    expect(d.error).toBeNull();
    expect(d.backend).toBe('wasm');
    expect(d.degraded).toBeNull();
    expect(d.scores.every(Number.isFinite)).toBe(true);
    expect(new Set(d.scores).size).toBeGreaterThan(1);
    const exported = await page.evaluate(async () => (await (window as unknown as TestWindow).__v.exportProfile()).aggregates.total);
    expect(exported).toEqual({ views: 0, positives: 1 + CATALOG.length, negatives: 1 });
    await expectNoRejections(page);
  });
}

test('an activity id "constructor" (or "__proto__") is counted like any other, and stays finite across visits', async ({ page }) => {
  await faultHooks(page);
  await init(page, { model: MODEL, backend: 'wasm' });
  const catalog = [
    { id: 'constructor', type: 'Bar', features: { expiration: '2h' } },
    { id: '__proto__', type: 'Coffee House', features: { expiration: '1d' } },
    ...CATALOG.slice(0, 3),
  ];
  const track = () =>
    page.evaluate(async (catalog) => {
      const v = (window as unknown as TestWindow).__v;
      const d = await v.rank(catalog);
      for (const item of d.items.filter((i) => i.id === 'constructor' || i.id === '__proto__')) await v.track(d.id, item.id, 'click');
      const again = await v.rank(catalog);
      const byActivity = (await v.exportProfile()).aggregates.byActivity;
      const own = (key: string) => (Object.prototype.hasOwnProperty.call(byActivity, key) ? { ...byActivity[key] } : null);
      return { scores: again.items.map((i) => i.score), backend: again.backend, ctor: own('constructor'), proto: own('__proto__') };
    }, catalog);
  const first = await track();
  expect(first.backend).toBe('wasm');
  expect(first.scores.every(Number.isFinite)).toBe(true);
  expect(first.ctor).toMatchObject({ views: 0, positives: 1, negatives: 0 });
  expect(first.proto).toMatchObject({ views: 0, positives: 1, negatives: 0 });
  await page.reload();
  const status = await init(page, { model: MODEL, backend: 'wasm' });
  expect(status.warnings).toEqual([]);
  const second = await track();
  expect(second.scores.every(Number.isFinite)).toBe(true);
  expect(second.ctor).toMatchObject({ positives: 2 });
  expect(second.proto).toMatchObject({ positives: 2 });
  await expectNoRejections(page);
});

test('corrupt outbox records and ledger: dropped or blocked with a reason, the report works, signals keep flowing', async ({ page }) => {
  await faultHooks(page);
  const junkSealed = {
    id: 'f'.repeat(32),
    state: 'sealed',
    model: 'm',
    events: [],
    withUpdate: false,
    attempts: 0,
    nextAt: 0,
    createdAt: 0,
    body: 5,
  };
  await seed(page, {}, { items: [{ id: 'not-a-batch' }, junkSealed], ledger: 'scribbled over' });
  await init(page, SIGNALS);
  const report = await page.evaluate(() => (window as unknown as TestWindow).__v.privacyReport());
  if (report.consent !== 'signals') throw new Error('signals did not start');
  expect(report.dropped.batches).toBe(2);
  expect(report.updates).toMatch(/privacy ledger was corrupt/);
  expect((await rankAndTrack(page)).error).toBeNull();
  const after = await flushAndReport(page);
  expect(after.consent === 'signals' && after.sent.events).toBe(3);
  expect(after.consent === 'signals' && after.sent.updates).toBe(0); // the budget use is unknown: no update this window
  await expectNoRejections(page);
});

test('another tab blocking the vitrine-signals open: init still resolves, signals go from memory, IndexedDB again next visit', async ({
  page,
  context,
}) => {
  await faultHooks(page);
  await seed(page, {});
  // Another tab holds a connection and ignores versionchange while a newer SDK waits to upgrade:
  // every later open of the database queues behind that upgrade.
  const other = await context.newPage();
  await other.goto('/e2e/blank.html');
  await other.evaluate(
    () =>
      new Promise<void>((resolve) => {
        const held = indexedDB.open('vitrine-signals', 1);
        held.onsuccess = () => {
          (window as unknown as { __held: IDBDatabase }).__held = held.result;
          const upgrade = indexedDB.open('vitrine-signals', 2);
          upgrade.onblocked = () => resolve();
          upgrade.onupgradeneeded = () => upgrade.transaction!.abort(); // the newer SDK gives up, once it gets its turn
          upgrade.onerror = (e) => e.preventDefault();
        };
      }),
  );
  const started = Date.now();
  const status = await init(page, SIGNALS);
  expect(Date.now() - started).toBeLessThan(30_000);
  expect(status.warnings.join(' ')).toMatch(/signal queue kept in memory .*timed out/);
  expect((await rankAndTrack(page)).backend).toBe('wasm');
  const report = await flushAndReport(page);
  expect(report.consent === 'signals' && report.sent.events).toBe(3);
  // The other tab goes away; the next visit uses IndexedDB again.
  await other.close();
  await page.reload();
  const next = await init(page, SIGNALS);
  expect(next.warnings.join(' ')).not.toMatch(/signal queue kept in memory/);
  const nextReport = await page.evaluate(() => (window as unknown as TestWindow).__v.privacyReport());
  expect(nextReport.consent === 'signals' && nextReport.storage).toBe('indexeddb');
  await expectNoRejections(page);
});

test('storage wiped between visits: the device ledger goes with it (the limit docs/privacy.md states), nothing breaks', async ({
  page,
  context,
}) => {
  await faultHooks(page);
  await init(page, SIGNALS);
  await rankAndTrack(page);
  const before = await flushAndReport(page);
  expect(before.consent === 'signals' && before.sent.batches).toBe(1);
  await page.evaluate(() => (window as unknown as TestWindow).__v.close());
  // What "clear site data" does: every database of the origin is gone.
  const cdp = await context.newCDPSession(page);
  await cdp.send('Storage.clearDataForOrigin', { origin: new URL(page.url()).origin, storageTypes: 'indexeddb' });
  await page.reload();
  await init(page, SIGNALS);
  const after = await page.evaluate(() => (window as unknown as TestWindow).__v.privacyReport());
  // A wiped device cannot prove what it spent: its ledger starts empty. What bounds it is the
  // server's side (one network counts once per round, rounds are spaced): packages/server/test/attacks.test.ts.
  expect(after.consent === 'signals' && after.sent.batches).toBe(0);
  expect(after.consent === 'signals' && after.spent?.contributions).toBe(0);
  expect((await rankAndTrack(page)).backend).toBe('wasm');
  await expectNoRejections(page);
});

test('/v1/privacy failing at page load: retried, and what was tracked meanwhile is sent once the server is back', async ({ page }) => {
  test.setTimeout(90_000);
  await faultHooks(page);
  let failing = true;
  await page.route('**/v1/privacy', (route) =>
    failing ? route.fulfill({ status: 503, headers: CORS, body: 'starting' }) : route.fallback(),
  );
  await init(page, SIGNALS);
  expect((await rankAndTrack(page)).error).toBeNull();
  const down = await flushAndReport(page);
  expect(down.consent === 'signals' && down.updates).toBe('privacy parameters not loaded');
  expect(down.consent === 'signals' && down.pending.events).toBe(3);
  failing = false;
  await expect
    .poll(
      async () => {
        const r = await flushAndReport(page);
        return r.consent === 'signals' ? r.sent.events : -1;
      },
      { timeout: 30_000 },
    )
    .toBe(3);
  await expectNoRejections(page);
});

test('page exit: hidden then pagehide share one 64 KiB keepalive budget; what does not fit stays queued', async ({ page }) => {
  test.setTimeout(90_000);
  await faultHooks(page);
  const keepaliveBytes: number[] = [];
  let exiting = false;
  await page.route('**/v1/signals', async (route) => {
    if (!exiting) return route.fulfill({ status: 503, headers: { 'retry-after': '3600', ...CORS }, body: 'busy' });
    keepaliveBytes.push(Buffer.byteLength(route.request().postData() ?? ''));
    // The page is leaving: these requests are never answered while it could see it.
  });
  await init(page, { ...SIGNALS, privacyFloors: undefined }); // default floors refuse QA privacy: no updates, small batches
  // About 28 sealed batches of 64 events (~3.5 KB each): far more than one keepalive budget.
  const queued = await page.evaluate(async (catalog) => {
    const v = (window as unknown as TestWindow).__v;
    for (let i = 0; i < 200; i++) {
      const d = await v.rank(catalog, { slots: 10 });
      for (const item of d.items.slice(0, 9)) await v.track(d.id, item.id, 'view');
    }
    const r = await v.privacyReport();
    return r.consent === 'signals' ? r.pending.batches : -1;
  }, CATALOG);
  expect(queued).toBeGreaterThan(20);
  exiting = true;
  await page.evaluate(() => {
    Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true });
    document.dispatchEvent(new Event('visibilitychange'));
    window.dispatchEvent(new PageTransitionEvent('pagehide', { persisted: false }));
  });
  await page.waitForTimeout(1_000);
  const sent = keepaliveBytes.reduce((a, b) => a + b, 0);
  expect(sent).toBeGreaterThan(0);
  expect(sent).toBeLessThanOrEqual(64 * 1024);
  // What did not fit is still queued (and in IndexedDB for the next page).
  const pending = await page.evaluate(async () => {
    const r = await (window as unknown as TestWindow).__v.privacyReport();
    return r.consent === 'signals' ? r.pending.batches : -1;
  });
  expect(pending).toBe(queued);
  await expectNoRejections(page);
});

test('privacy parameters below the device floors, or a shadow model on another origin, are refused', async ({ page }) => {
  await faultHooks(page);
  const requested: string[] = [];
  page.on('request', (r) => requested.push(r.url()));
  await page.route('**/v1/privacy', async (route) => {
    const real = await route.fetch();
    const params = await real.json();
    // What a hostile or broken server might publish: a huge budget whose noise does not match its claimed cost.
    params.budget.epsilon = 1000;
    params.update.rhoPerContribution = 1e-9;
    params.shadowModel = 'https://evil.example/models/x/manifest.json';
    await route.fulfill({ response: real, json: params });
  });
  await init(page, { ...SIGNALS, privacyFloors: undefined });
  expect((await rankAndTrack(page)).error).toBeNull();
  const report = await flushAndReport(page);
  if (report.consent !== 'signals') throw new Error('signals did not start');
  expect(report.updates).toMatch(/^refused: epsilon 1000 is above this device's limit of 10/);
  expect(report.sent.updates).toBe(0);
  expect(report.sent.events).toBe(3);
  expect(requested.filter((u) => u.includes('evil.example'))).toEqual([]);
  await expectNoRejections(page);
});

/** The README's script-tag snippet, as a shop would paste it. */
function readmeSnippet(): string {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const match = /<!-- snippet: script-tag -->\s*```html\n([\s\S]*?)```/.exec(readme);
  if (!match) throw new Error('README.md has no <!-- snippet: script-tag --> html block');
  return match[1];
}

for (const sdk of ['missing', 'working'] as const) {
  test(`the README's script-tag snippet shows the shop's order first, with the SDK ${sdk}`, async ({ page }) => {
    await faultHooks(page);
    const snippet = readmeSnippet()
      .replace(/src="[^"]*vitrine\.min\.js"/, `src="${sdk === 'missing' ? '/sdk/404/vitrine.min.js' : '/sdk/vitrine.min.js'}"`)
      .replace(/data-model="[^"]*"/, `data-model="${MODEL}"`);
    const shop = `<!doctype html><html><head><meta charset="utf-8"><script>
      // The shop's own code: its offers in its order, and how it renders a list of them.
      window.activities = ${JSON.stringify(CATALOG)};
      window.renders = 0;
      window.render = (items) => { window.renders += 1; document.getElementById('offers').textContent = items.map((a) => a.id).join(','); };
    </script></head><body><div id="offers"></div>${snippet}</body></html>`;
    await page.route('**/e2e/shop.html', (route) => route.fulfill({ contentType: 'text/html', body: shop }));
    if (sdk === 'missing') await page.route('**/sdk/404/**', (route) => route.fulfill({ status: 404, body: 'not found' }));
    await page.goto('/e2e/shop.html');
    const shown = page.locator('#offers');
    await expect(shown).toHaveText(/\S/);
    const first = (await shown.textContent())!.split(',');
    expect(first.length).toBeGreaterThan(0);
    expect(CATALOG.map((a) => a.id)).toEqual(expect.arrayContaining(first));
    const renders = () => page.evaluate(() => (window as unknown as { renders: number }).renders);
    if (sdk === 'working') {
      // The SDK arrives and renders again, in its order (the queue callback ran).
      await expect.poll(renders, { timeout: 60_000 }).toBe(2);
    } else {
      await page.waitForTimeout(1_000);
      expect(await renders()).toBe(1);
      expect(await page.evaluate(() => 'Vitrine' in window)).toBe(false);
    }
    await expectNoRejections(page);
  });
}
