import 'fake-indexeddb/auto';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { openDB } from 'idb';
import { createServer, openDb, type VitrineServer } from '@vitrine/server';
import { testConfig } from '@vitrine/server/testing';
import { createVitrine, type Activity, type VitrineError, type VitrineOptions } from '../src/index';
import { IdbOutbox, MemoryOutbox, SIGNALS_DB } from '../src/signals/outbox';
import * as valibot from 'valibot';
import { REWARDS } from '@vitrine/core/domain';
import { BatchSchema, timeBucket, type PrivacyParameters } from '@vitrine/core/protocol';
const v_safeParse = (b: unknown) => valibot.safeParse(BatchSchema, b).success;
import { COUPON_CATALOG } from '@vitrine/models/datasets/coupons';
import { PrivacyAccountant } from '../src/signals/accountant';
import { emptyLedger } from '../src/signals/outbox';
import { ABANDONED_AFTER_MS } from '../src/signals/stage';
import { epsilonFromRho } from '@vitrine/core/privacy';

const activities: Activity[] = COUPON_CATALOG.slice(0, 4);
const context = { destination: 'Work', weather: 'Sunny', time: '7AM' };

interface Captured {
  url: string;
  init: RequestInit;
  body?: unknown;
}

let server: VitrineServer;
let base: string;
let failNext: { status: number; headers?: Record<string, string> }[] = [];
/** Floors loose enough for the QA-style test server; the default floors have their own tests. */
const QA_FLOORS = { maxEpsilon: Infinity, minCohort: 1, minKThreshold: 1 };
let hangPrivacy = false;
/** Answer the privacy request only after this long (a slow server). */
let delayPrivacyMs = 0;
/** Model manifest requests still to answer with 502 (a server that is starting). */
let failModel = 0;
const requests: Captured[] = [];
const realFetch = globalThis.fetch;
/** The network as the SDK sees it: every request is recorded; failures can be injected. */
const recordingFetch = (async (input: RequestInfo | URL, init: RequestInit = {}) => {
  const url = String(input instanceof Request ? input.url : input);
  requests.push({ url, init, ...(typeof init.body === 'string' ? { body: JSON.parse(init.body) } : {}) });
  if (failModel > 0 && url.endsWith('/v1/models/current')) {
    failModel -= 1;
    return new Response('starting', { status: 502 });
  }
  if (hangPrivacy && url.endsWith('/v1/privacy')) {
    // A server that accepts the connection and never answers (until the SDK gives up).
    return new Promise<Response>((_, reject) => init.signal?.addEventListener('abort', () => reject(init.signal!.reason)));
  }
  if (delayPrivacyMs && url.endsWith('/v1/privacy')) await new Promise((r) => setTimeout(r, delayPrivacyMs));
  if (url.endsWith('/v1/signals') && failNext.length) {
    const f = failNext.shift()!;
    return new Response(JSON.stringify({ error: 'injected' }), { status: f.status, headers: f.headers });
  }
  return realFetch(input, init);
}) as typeof fetch;

beforeAll(async () => {
  const config = testConfig({ privacy: { ...testConfig().privacy, minCohort: 1, contributionsPerWindow: 3 } });
  server = await createServer(config, await openDb({}));
  base = await server.app.listen({ port: 0, host: '127.0.0.1' });
  globalThis.fetch = recordingFetch;
});
afterAll(async () => {
  globalThis.fetch = realFetch;
  await server.close();
});
afterEach(() => {
  requests.length = 0;
  failNext = [];
  hangPrivacy = false;
  failModel = 0;
  delayPrivacyMs = 0;
});

interface ClientOptions {
  consent?: 'none' | 'signals';
  holdout?: VitrineOptions['holdout'];
  random?: () => number;
  now?: () => number;
  outbox?: MemoryOutbox | IdbOutbox;
  errors?: VitrineError[];
}

function client(options: ClientOptions = {}) {
  return createVitrine(
    {
      model: `${base}/v1/models/current`,
      endpoint: `${base}/v1`,
      backend: 'cpu',
      storage: 'memory',
      consent: options.consent,
      now: options.now,
      // The holdout's control arm changes the order and marks events: off unless a test is about it.
      holdout: options.holdout ?? false,
      ...(options.random ? { random: options.random } : {}),
      onError: (e) => options.errors?.push(e),
      // This test server runs rounds of one network with a huge epsilon (QA settings).
      privacyFloors: QA_FLOORS,
    },
    { outbox: options.outbox ?? new MemoryOutbox(), flushDelayMs: 3_600_000 },
  );
}

const signalPosts = () => requests.filter((r) => r.url.endsWith('/v1/signals'));

describe('signals stage', () => {
  it('sends nothing, not even a privacy request, without consent', async () => {
    const v = await client();
    const d = await v.rank(activities, { context, slots: 2 });
    await v.track(d.id, d.items[0].id, 'click');
    await v.flush();
    v.close();
    // Only public documents are fetched: the model and the merchant's policy, GET, no cookies, no query, no body.
    const other = requests.filter((r) => !r.url.includes('/v1/models/'));
    expect(other.map((r) => r.url)).toEqual([`${base}/v1/policy`]);
    expect(other[0].init).toMatchObject({ credentials: 'omit' });
    expect(other[0].init.method ?? 'GET').toBe('GET');
    expect(other[0].init.body).toBeUndefined();
    // The default consent keeps the profile on the device and sends nothing.
    expect(await v.privacyReport()).toEqual({ consent: 'profile', sent: null });
  });

  it('with consent sends one allow-listed, cookieless text/plain batch per page of events', async () => {
    const v = await client({ consent: 'signals' });
    const d = await v.rank(activities, { context, slots: 2 });
    await v.track(d.id, d.items[0].id, 'view');
    await v.track(d.id, d.items[1].id, 'view');
    await v.track(d.id, d.items[1].id, 'click');
    await v.flush();
    const posts = signalPosts();
    expect(posts).toHaveLength(1);
    const [post] = posts;
    expect(post.init).toMatchObject({ method: 'POST', credentials: 'omit', referrerPolicy: 'no-referrer' });
    expect((post.init.headers as Record<string, string>)['content-type']).toMatch(/^text\/plain/);
    const body = post.body as Record<string, unknown>;
    // The server's own strict schema accepts it...
    expect(v_safeParse(body)).toBe(true);
    expect(Object.keys(body).sort()).toEqual(['events', 'format', 'id', 'model', 'update']);
    const events = body.events as Record<string, unknown>[];
    for (const e of events) expect(Object.keys(e).sort()).toEqual(['a', 'p', 's', 'r', 't'].sort());
    // ...one event per placed item, the later click raising the reward.
    expect(events.map((e) => [e.a, e.s, e.r])).toEqual([
      [d.items[0].id, 0, REWARDS.view],
      [d.items[1].id, 1, REWARDS.click],
    ]);
    expect((events[0].t as number) % 6).toBe(0);
    // The residual head's clipped gradient and curvature sums: 537 encoder inputs + 80 hidden units + 1.
    const update = body.update as { g: number[]; h: number[]; n: number };
    expect(update.g).toHaveLength(618);
    expect(update.h).toHaveLength(618);
    expect(update.h.every((x) => x >= 0)).toBe(true);
    expect(update.n).toBe(2);
    // Nothing in the payload identifies the shopper or the page.
    const text = JSON.stringify(body);
    for (const forbidden of ['Work', 'Sunny', 'user', 'session', 'device', 'cookie', 'url', 'agent']) {
      expect(text).not.toContain(forbidden);
    }
    const stats = (await server.app.inject({ url: '/v1/stats' })).json();
    expect(stats.signals.events).toBeGreaterThanOrEqual(2);
    const report = await v.privacyReport();
    expect(report.consent).toBe('signals');
    if (report.consent !== 'signals') return;
    expect(report.sent).toMatchObject({ batches: 1, events: 2, updates: 1 });
    expect(report.spent!.contributions).toBe(1);
    expect(report.spent!.epsilon).toBeGreaterThan(0);
    expect(report.spent!.epsilon).toBeLessThanOrEqual(report.budget!.epsilon);
    v.close();
  });

  it("holdout: control page views keep the shop's order, say so, and mark their events", async () => {
    const v = await client({ consent: 'signals', holdout: { share: 1 } });
    const d = await v.rank(activities, { context, slots: 3 });
    expect(d.policy.arm).toBe('control');
    expect(d.items.map((i) => i.id)).toEqual(activities.slice(0, 3).map((a) => a.id));
    // Share 1: the logging policy is the shop's order, so each placement had probability 1.
    expect(d.items.map((i) => i.propensity)).toEqual([1, 1, 1]);
    expect(d.items[0].reasons[0]).toMatchObject({ code: 'control' });
    await v.track(d.id, d.items[0].id, 'click');
    await v.flush();
    const events = (signalPosts()[0].body as { events: Record<string, unknown>[] }).events;
    expect(events).toEqual([expect.objectContaining({ a: d.items[0].id, c: 1, p: 1, r: 1 })]);
    v.close();
  });

  it('holdout: by default about 10% of page views are control; every slot of a page view follows its arm', async () => {
    let seed = 1;
    const random = () => ((seed = (seed * 16807) % 2147483647) - 1) / 2147483646;
    let control = 0;
    const pages = 150;
    for (let r = 0; r < pages; r++) {
      const v = await client({ consent: 'signals', holdout: {}, random });
      const arms = new Set<string | undefined>();
      for (let slot = 0; slot < 3; slot++) {
        const d = await v.rank(activities, { context, slots: 2 });
        arms.add(d.policy.arm);
        // Propensities are over both arms: (1 − 0.1)·Vitrine's + 0.1·control's.
        for (const item of d.items) expect(item.propensity).toBeGreaterThan(0);
      }
      expect(arms.size).toBe(1);
      if (arms.has('control')) control++;
      else expect([...arms]).toEqual(['vitrine']);
      v.close();
    }
    // Binomial(150, 0.1): mean 15, sd 3.7; 4 sd either side.
    expect(control).toBeGreaterThanOrEqual(1);
    expect(control).toBeLessThan(30);
  }, 60_000);

  it('concurrent track() calls land in one batch with one update', async () => {
    const outbox = new MemoryOutbox();
    const v = await client({ consent: 'signals', outbox });
    const d = await v.rank(activities, { context, slots: 4 });
    await Promise.all(d.items.map((item, i) => v.track(d.id, item.id, i === 1 ? 'click' : 'view')));
    await v.flush();
    const posts = signalPosts();
    expect(posts).toHaveLength(1);
    const body = posts[0].body as { events: unknown[]; update?: { n: number } };
    expect(body.events).toHaveLength(4);
    expect(body.update?.n).toBe(4);
    const report = await v.privacyReport();
    if (report.consent !== 'signals') throw new Error('consent');
    expect(report.spent!.contributions).toBe(1);
    v.close();
  });

  it('the page emptying or changing its activities right after rank() changes nothing that is sent', async () => {
    const sent = async (mutate: boolean) => {
      requests.length = 0;
      // No exploration (random() never below epsilon): both runs must place the same items.
      const v = await client({ consent: 'signals', outbox: new MemoryOutbox(), random: () => 0.999 });
      const list = activities.map((a) => ({ ...a, features: { ...a.features } }));
      const d = await v.rank(list, { context, slots: 4 });
      if (mutate) {
        // Before the placements' update terms are computed (a task after rank() returned).
        for (const a of list) Object.assign(a, { type: 'Bar', features: { expiration: 'never' } });
        list.length = 0;
      }
      await Promise.all(d.items.map((item, i) => v.track(d.id, item.id, i === 1 ? 'click' : 'view')));
      await v.flush();
      v.close();
      const body = signalPosts()[0].body as { events: { slot: number; propensity: number }[]; update?: unknown };
      return { events: body.events.map((e) => [e.slot, e.propensity]), update: body.update };
    };
    const untouched = await sent(false);
    expect(untouched.update).toBeDefined();
    expect(await sent(true)).toEqual(untouched);
  });

  it('page exit (hidden, then pagehide) sends each batch once with keepalive', async () => {
    const v = await client({ consent: 'signals' });
    const d = await v.rank(activities, { context, slots: 1 });
    await v.track(d.id, d.items[0].id, 'click');
    // What the visibilitychange and pagehide listeners call, back to back.
    const stage = (v as unknown as { signals: { flush(o: { keepalive: boolean }): Promise<void> } }).signals;
    await stage.flush({ keepalive: true });
    await stage.flush({ keepalive: true });
    const posts = signalPosts();
    expect(posts).toHaveLength(1);
    expect(posts[0].init.keepalive).toBe(true);
    v.close();
  });

  it('keeps an open batch open until the idle delay, even when the privacy parameters arrive after track()', async () => {
    // track() stops waiting for the parameters after 2 s; when they arrive later, the stage's
    // first send pass must send only what is sealed, not seal the batch still being filled.
    delayPrivacyMs = 2_600;
    const v = await client({ consent: 'signals' });
    const d = await v.rank(activities, { context, slots: 1 });
    await v.track(d.id, d.items[0].id, 'click');
    await new Promise((r) => setTimeout(r, 1_500));
    expect(requests.some((r) => r.url.endsWith('/v1/privacy'))).toBe(true);
    expect(signalPosts()).toHaveLength(0);
    await v.flush();
    expect(signalPosts()).toHaveLength(1);
    v.close();
  });

  it('close() or forget() while the signals stage is starting: nothing is asked or sent afterwards', async () => {
    const closing = await client();
    const starting = closing.setConsent('signals'); // not awaited: the page closes meanwhile
    closing.close();
    await starting.catch(() => undefined);
    await new Promise((r) => setTimeout(r, 100));
    expect(requests.filter((r) => r.url.endsWith('/v1/privacy'))).toHaveLength(0); // no stage was started after close()
    const forgetting = await client();
    const d = await forgetting.rank(activities, { context, slots: 1 });
    const startingToo = forgetting.setConsent('signals');
    await forgetting.forget(); // waits for the start under way, then stops its stage and clears its queue
    await startingToo;
    await forgetting.track(d.id, d.items[0].id, 'click').catch(() => undefined); // forgotten decision
    await forgetting.flush();
    await new Promise((r) => setTimeout(r, 200));
    expect(signalPosts()).toHaveLength(0);
    forgetting.close();
  });

  it('keeps batches across a crash (IndexedDB) and resends them with the same id', async () => {
    const outbox = await IdbOutbox.open();
    await outbox.clear();
    const a = await client({ consent: 'signals', outbox });
    const d = await a.rank(activities, { context, slots: 1 });
    await a.track(d.id, d.items[0].id, 'click');
    // The page dies before anything is sent.
    a.close();
    expect(signalPosts()).toHaveLength(0);
    const reopened = await IdbOutbox.open();
    const pending = await reopened.list();
    expect(pending).toHaveLength(1);
    // The next page seals it once it has gone untouched long enough to be no live tab's.
    const b = await client({ consent: 'signals', outbox: reopened, now: () => Date.now() + ABANDONED_AFTER_MS });
    await b.flush();
    const posts = signalPosts();
    expect(posts).toHaveLength(1);
    expect((posts[0].body as { id: string }).id).toBe(pending[0].id);
    expect(await (await IdbOutbox.open()).list()).toHaveLength(0);
    b.close();
  });

  it('sends what SDK 0.3 left open in IndexedDB (wire-named events): converted, nothing lost, without an update', async () => {
    const version = (await server.app.inject({ url: '/v1/models/current' })).json().version as string;
    const box = await IdbOutbox.open();
    await box.clear();
    const before = (await box.ledger()).sent; // the ledger outlives the queue (earlier tests sent batches)
    box.close();
    const now = Date.now();
    // An open batch exactly as SDK 0.3 stored it: events under wire names, pre-activations as
    // `z`, a noise seed; left by a page closed before sealing it (long enough ago to be no live tab's).
    const legacy = {
      id: '0123456789abcdef0123456789abcdef',
      state: 'open',
      model: version,
      withUpdate: true,
      noiseSeed: [1, 2, 3, 4],
      attempts: 0,
      nextAt: 0,
      createdAt: now - ABANDONED_AFTER_MS,
      events: [
        { key: 'old:a', a: activities[0].id, s: 0, p: 0.9625, r: 1, t: timeBucket(now), z: Array.from({ length: 80 }, (_, i) => i / 80) },
        { key: 'old:b', a: activities[1].id, s: 1, p: 0.0125, r: 0, t: timeBucket(now) },
      ],
    };
    const raw = await openDB(SIGNALS_DB, 1);
    await raw.put('outbox', legacy);
    raw.close();
    const v = await client({ consent: 'signals', outbox: await IdbOutbox.open() });
    await v.flush();
    const posts = signalPosts();
    expect(posts).toHaveLength(1);
    expect(posts[0].body).toEqual({
      format: 'vitrine-signals@1',
      id: legacy.id,
      model: version,
      // Pre-activations fit no residual head: the events go out without an update.
      events: legacy.events.map(({ key: _key, z: _z, ...wire }) => wire),
    });
    const report = await v.privacyReport();
    if (report.consent !== 'signals') throw new Error('consent');
    expect(report.sent).toMatchObject({ batches: before.batches + 1, events: before.events + 2, updates: before.updates });
    expect(report.pending.batches).toBe(0);
    v.close();
  });

  it('starts the signals stage once a model-load retry succeeds', async () => {
    failModel = 1;
    const retries: (() => void)[] = [];
    const v = await createVitrine(
      { model: `${base}/v1/models/current`, endpoint: `${base}/v1`, backend: 'cpu', storage: 'memory', consent: 'signals' },
      {
        outbox: new MemoryOutbox(),
        flushDelayMs: 3_600_000,
        setTimer: (run) => {
          retries.push(run);
          return () => undefined;
        },
      },
    );
    expect(v.status.degraded).toMatch(/HTTP 502.*retry 1 of 10/);
    expect(await v.privacyReport()).toEqual({ consent: 'profile', sent: null, requested: 'signals' }); // no stage without a model
    retries[0]();
    await vi.waitFor(async () => expect((await v.privacyReport()).sent).not.toBeNull(), { timeout: 15_000 });
    const d = await v.rank(activities, { context, slots: 1 });
    expect(d.backend).toBe('cpu');
    await v.track(d.id, d.items[0].id, 'click');
    await v.flush();
    expect(signalPosts()).toHaveLength(1);
    v.close();
  });

  it('backs off on 5xx and 429 (Retry-After), drops only on 400/413, and says so', async () => {
    // The server takes only time buckets of the last 14 days: the clock starts at the real time.
    let now = Date.now();
    const errors: VitrineError[] = [];
    const v = await client({ consent: 'signals', now: () => now, errors });
    const d = await v.rank(activities, { context, slots: 1 });
    failNext = [{ status: 503 }, { status: 429, headers: { 'retry-after': '120' } }];
    await v.track(d.id, d.items[0].id, 'click');
    await v.flush();
    expect(signalPosts()).toHaveLength(1);
    await v.flush(); // too early: waits for its backoff
    expect(signalPosts()).toHaveLength(1);
    now += 5_000; // past the first backoff (2 s x jitter <= 2 s)
    await v.flush();
    expect(signalPosts()).toHaveLength(2); // 429 now
    now += 60_000;
    await v.flush();
    expect(signalPosts()).toHaveLength(2); // Retry-After 120 s not over yet
    now += 61_000;
    await v.flush();
    expect(signalPosts()).toHaveLength(3);
    let report = await v.privacyReport();
    if (report.consent !== 'signals') throw new Error('consent');
    expect(report.sent.batches).toBe(1);
    expect(report.pending.batches).toBe(0);
    // A 400 means the batch can never be accepted: dropped and reported.
    failNext = [{ status: 400 }];
    const d2 = await v.rank(activities, { context, slots: 1 });
    await v.track(d2.id, d2.items[0].id, 'dismiss');
    await v.flush();
    report = await v.privacyReport();
    if (report.consent !== 'signals') throw new Error('consent');
    expect(report.dropped.batches).toBe(1);
    expect(report.pending.batches).toBe(0);
    expect(errors.some((e) => e.code === 'signals_failed' && e.message.includes('HTTP 400'))).toBe(true);
    v.close();
  });

  it('contributes at most once per published interval (30 days / 3 here)', async () => {
    let now = Date.UTC(2026, 6, 1);
    const outbox = new MemoryOutbox();
    const updates: boolean[] = [];
    for (let visit = 0; visit < 6; visit++) {
      const v = await client({ consent: 'signals', now: () => now, outbox });
      const d = await v.rank(activities, { context, slots: 1 });
      await v.track(d.id, d.items[0].id, 'click');
      await v.flush();
      updates.push(Boolean((signalPosts().at(-1)!.body as { update?: unknown }).update));
      const report = await v.privacyReport();
      if (report.consent !== 'signals') throw new Error('consent');
      expect(report.spent!.epsilon).toBeLessThanOrEqual(report.budget!.epsilon + 1e-9);
      v.close();
      now += 5 * 86_400_000;
    }
    expect(updates).toEqual([true, false, true, false, true, false]);
    // The history: ε in the window (30 days: day 0's contribution has left it) after each contribution, rising.
    const v = await client({ consent: 'signals', now: () => now, outbox });
    const report = await v.privacyReport();
    if (report.consent !== 'signals') throw new Error('consent');
    const history = report.spent!.history;
    expect(history.map((h) => h.at)).toEqual([10, 20].map((days) => Date.UTC(2026, 6, 1) + days * 86_400_000));
    expect(history.every((h, i) => i === 0 || h.epsilon > history[i - 1].epsilon)).toBe(true);
    expect(history.at(-1)!.epsilon).toBeCloseTo(report.spent!.epsilon, 12);
    v.close();
  });

  it('the accountant refuses a contribution that would exceed the budget', () => {
    const params = {
      budget: { epsilon: 2, delta: 1e-6, windowDays: 30 },
      update: { rhoPerContribution: 0.01, minHoursBetween: 0 },
    } as unknown as PrivacyParameters;
    let now = 0;
    const acc = new PrivacyAccountant(params, () => now);
    let ledger = emptyLedger();
    let n = 0;
    while (acc.refusal(ledger) === null) {
      ledger = acc.charge(ledger);
      n += 1;
      now += 1000;
    }
    // rho = mu^2 / 2 of Gaussian releases adds up: n * 0.01 <= rho(epsilon = 2, delta = 1e-6) < (n + 1) * 0.01
    expect(epsilonFromRho(n * 0.01, 1e-6)).toBeLessThanOrEqual(2);
    expect(epsilonFromRho((n + 1) * 0.01, 1e-6)).toBeGreaterThan(2);
    expect(acc.refusal(ledger)).toContain('budget');
    expect(acc.report(ledger).remaining.contributions).toBe(0);
    // 30 days later the window has moved on.
    now += 31 * 86_400_000;
    expect(acc.refusal(ledger)).toBeNull();
  });

  it('a server that never answers does not hold up rank, track or privacyReport', async () => {
    hangPrivacy = true;
    const outbox = new MemoryOutbox();
    const v = await client({ consent: 'signals', outbox });
    const t0 = Date.now();
    const d = await v.rank(activities, { context, slots: 1 });
    await v.track(d.id, d.items[0].id, 'click');
    const report = await v.privacyReport();
    expect(Date.now() - t0).toBeLessThan(5_000);
    if (report.consent !== 'signals') throw new Error('consent');
    expect(report.parameters).toBeNull();
    expect(report.pending.events).toBe(1); // kept (without an update) until the server answers
    expect((await outbox.list())[0].withUpdate).toBe(false);
    v.close();
  });

  it("with storage: 'memory' and no outbox of its own, events are sent but never an update (no ledger across pages)", async () => {
    const v = await createVitrine(
      {
        model: `${base}/v1/models/current`,
        endpoint: `${base}/v1`,
        backend: 'cpu',
        storage: 'memory',
        consent: 'signals',
        privacyFloors: QA_FLOORS,
      },
      { flushDelayMs: 3_600_000 },
    );
    const d = await v.rank(activities, { context, slots: 2 });
    await v.track(d.id, d.items[0].id, 'click');
    await v.flush();
    const report = await v.privacyReport();
    v.close();
    expect(report.consent === 'signals' && report.updates).toMatch(/no model updates: storage: 'memory' keeps no privacy ledger/);
    const posted = signalPosts().map((r) => r.body as { update?: unknown });
    expect(posted).toHaveLength(1);
    expect(posted[0].update).toBeUndefined();
  });

  it('refuses a bad consent value and a bad endpoint with a VitrineError', async () => {
    const v = await client();
    await expect(v.setConsent('yes' as never)).rejects.toMatchObject({ name: 'VitrineError', code: 'invalid_input', field: 'consent' });
    const bad = await createVitrine(
      { model: `${base}/v1/models/current`, endpoint: 'http://[::bad', backend: 'cpu', storage: 'memory' },
      { outbox: new MemoryOutbox() },
    );
    await expect(bad.setConsent('signals')).rejects.toMatchObject({ name: 'VitrineError', code: 'signals_failed' });
    v.close();
    bad.close();
  });

  it('withdrawing and granting consent again without waiting ends with signals running', async () => {
    const v = await client({ consent: 'signals' });
    const withdrawing = v.setConsent('none');
    await v.setConsent('signals'); // the shopper changed their mind at once
    await withdrawing;
    await vi.waitFor(async () => expect((await v.privacyReport()).sent).not.toBeNull());
    v.close();
  });

  it('withdrawing consent deletes unsent signals and stops sending', async () => {
    const outbox = new MemoryOutbox();
    const v = await client({ consent: 'signals', outbox });
    const d = await v.rank(activities, { context, slots: 1 });
    await v.track(d.id, d.items[0].id, 'click');
    await v.setConsent('none');
    expect(await outbox.list()).toEqual([]);
    await v.track(d.id, d.items[0].id, 'purchase');
    await v.flush();
    expect(signalPosts()).toHaveLength(0);
    v.close();
  });
});
