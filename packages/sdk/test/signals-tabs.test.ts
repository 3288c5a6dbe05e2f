import 'fake-indexeddb/auto';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { readFileSync } from 'node:fs';
import { type Outcome } from '@vitrine/core/domain';
import { FeatureEncoder, emptyAggregates } from '@vitrine/core/features';
import { parseWireBatch, SIGNALS_FORMAT, type WireBatch } from '@vitrine/core/protocol';
import { COUPON_CATALOG } from '@vitrine/models/datasets/coupons';
import { loadModel, type LoadedModel } from '../src/model/loader';
import { deleteDatabase } from '../src/platform';
import { PrivacyAccountant } from '../src/signals/accountant';
import { openBatch } from '../src/signals/batch';
import { IdbOutbox, MemoryOutbox, SIGNALS_DB, type Ledger, type SignalOutbox } from '../src/signals/outbox';
import { parsePrivacyParameters } from '../src/signals/privacy-parameters';
import { ABANDONED_AFTER_MS, SignalsStage } from '../src/signals/stage';
import { fakeFetch, privacyParametersJson } from './helpers';

/*
 * Two tabs of one shopper: two signals stages, each with its own connection to the same
 * IndexedDB outbox (fake-indexeddb), as two tabs of one origin have.
 */

const manifestText = readFileSync(new URL('../../../models/coupons/manifest.json', import.meta.url), 'utf8');
const weightsPath = JSON.parse(manifestText).files[0].path as string;
const MODEL_VERSION = JSON.parse(manifestText).version as string;
const weightBytes = new Uint8Array(readFileSync(new URL(`../../../models/coupons/${weightsPath}`, import.meta.url)));
const MODEL_URL = 'https://shop.test/models/coupons/manifest.json';
const ENDPOINT = 'https://vitrine.test/v1';
const HOUR_MS = 3_600_000;

const PRIVACY = privacyParametersJson(MODEL_VERSION);

let model: LoadedModel;
beforeAll(async () => {
  const { fetch } = fakeFetch({ [MODEL_URL]: manifestText, [new URL(weightsPath, MODEL_URL).href]: weightBytes });
  model = await loadModel(MODEL_URL, { fetch, subtle: globalThis.crypto.subtle });
});

/** The device's clock, shared by its tabs. */
let now = Date.UTC(2026, 5, 1, 13, 30);

/** A Vitrine server stand-in: publishes the privacy parameters, validates batches and, like the real one, keeps one copy per id. */
function mockServer(privacy: unknown = PRIVACY) {
  const stored = new Map<string, WireBatch>();
  const duplicates: string[] = [];
  let privacyRequests = 0;
  let releasePrivacy: (() => void) | null = null;
  let privacyHeld: Promise<void> = Promise.resolve();
  const fetchImpl = (async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const url = String(input);
    if (url === `${ENDPOINT}/privacy`) {
      privacyRequests += 1;
      await privacyHeld;
      return Response.json(privacy);
    }
    if (url === `${ENDPOINT}/signals`) {
      const batch = parseWireBatch(JSON.parse(init.body as string));
      const duplicate = stored.has(batch.id);
      if (duplicate) duplicates.push(batch.id);
      else stored.set(batch.id, batch);
      return Response.json({ batch: batch.id, events: batch.events.length, update: Boolean(batch.update), duplicate }, { status: 202 });
    }
    return new Response('not found', { status: 404 });
  }) as typeof fetch;
  return {
    fetch: fetchImpl,
    duplicates,
    get batches() {
      return [...stored.values()];
    },
    get privacyRequests() {
      return privacyRequests;
    },
    /** Privacy requests wait until the returned function is called (a slow server). */
    holdPrivacy(): () => void {
      privacyHeld = new Promise((resolve) => {
        releasePrivacy = resolve;
      });
      return () => releasePrivacy?.();
    },
  };
}
type MockServer = ReturnType<typeof mockServer>;

interface Tab {
  stage: SignalsStage;
  outbox: IdbOutbox;
  errors: string[];
  /** The placed items of one decision (all six coupons), keyed by activity id. */
  rank(): ReturnType<SignalsStage['placements']>;
}

/**
 * Tab A tracks three events, then its machine sleeps past ABANDONED_AFTER_MS; tab B opens, finds
 * A's batch abandoned and seals and sends it.
 */
async function sealedUnderSleepingTab(server: MockServer): Promise<{ a: Tab; b: Tab }> {
  const a = await openTab(server);
  await a.stage.settle();
  await track(a, 'decision-1', [0, 1, 2]);
  now += ABANDONED_AFTER_MS + 60_000;
  const b = await openTab(server);
  await b.stage.settle();
  await b.stage.flush();
  return { a, b };
}

const opened: Tab[] = [];
afterEach(async () => {
  for (const tab of opened.splice(0)) tab.stage.close();
  await deleteDatabase(SIGNALS_DB);
});

/** A tab: a signals stage with its own connection to the shared outbox. Idle sealing is off (timers are the browser's business). */
async function openTab(server: MockServer): Promise<Tab> {
  const outbox = await IdbOutbox.open();
  const errors: string[] = [];
  const stage = new SignalsStage(model, {
    endpoint: ENDPOINT,
    fetch: server.fetch,
    outbox,
    now: () => now,
    random: () => 0.5,
    loadShadow: () => Promise.reject(new Error('no shadow model here')),
    onError: (message) => errors.push(message),
    flushDelayMs: 24 * HOUR_MS,
  });
  const activities = COUPON_CATALOG.slice(0, 6);
  const rank = () =>
    stage.placements({
      activities,
      order: activities.map((_, i) => i),
      propensities: activities.map(() => 1),
      epsilon: 0,
      encoder: new FeatureEncoder(model.manifest.featureSpec),
      context: { destination: 'Work', weather: 'Sunny', time: '7AM' },
      user: {},
      profile: emptyAggregates(),
    });
  const tab = { stage, outbox, errors, rank };
  opened.push(tab);
  return tab;
}

const ids = COUPON_CATALOG.slice(0, 6).map((a) => a.id);

/** track() for the coupons at `slots` of one decision. */
async function track(tab: Tab, decisionId: string, slots: number[], outcome: Outcome = 'click'): Promise<void> {
  const placements = tab.rank();
  for (const slot of slots) await tab.stage.record(decisionId, ids[slot], placements.get(ids[slot])!, outcome);
}

/** The activity ids the server received, over all batches. */
const receivedActivities = (server: MockServer) => server.batches.flatMap((b) => b.events.map((e) => e.a)).sort();

describe('one update per device, whatever the tabs', () => {
  it('two tabs opening batches at the same moment charge the ledger once, and one batch carries an update', async () => {
    const server = mockServer();
    const [a, b] = await Promise.all([openTab(server), openTab(server)]);
    await Promise.all([a.stage.settle(), b.stage.settle()]);
    // Each tab read an empty ledger at start: only the ledger as stored, checked in the
    // transaction that opens the batch, can tell the second tab that the first one charged.
    await Promise.all([track(a, 'decision-a', [0]), track(b, 'decision-b', [1])]);
    expect((await a.outbox.ledger()).contributions).toHaveLength(1);
    const stored = await a.outbox.list();
    expect(stored.map((i) => i.withUpdate).sort()).toEqual([false, true]);
    await Promise.all([a.stage.flush(), b.stage.flush()]);
    expect(server.batches).toHaveLength(2);
    expect(server.batches.filter((batch) => batch.update)).toHaveLength(1);
    const ledger = await a.outbox.ledger();
    expect(ledger.sent).toMatchObject({ batches: 2, events: 2, updates: 1 });
    expect([...a.errors, ...b.errors]).toEqual([]);
  });
});

describe('no tab seals a batch another live tab is filling', () => {
  it('a tab starting while another fills its batch leaves it open; all 6 events reach the server, once', async () => {
    const server = mockServer();
    const a = await openTab(server);
    await a.stage.settle();
    await track(a, 'decision-1', [0, 1, 2]);
    now += 60_000;
    const b = await openTab(server);
    await b.stage.settle();
    await b.stage.flush();
    const [open] = await b.outbox.list();
    expect(open).toMatchObject({ state: 'open', withUpdate: true });
    expect(open.events).toHaveLength(3);
    expect(server.batches).toEqual([]);
    now += 60_000;
    await track(a, 'decision-2', [3, 4, 5]);
    await a.stage.flush();
    await b.stage.flush();
    expect(server.batches).toHaveLength(1);
    expect(receivedActivities(server)).toEqual([...ids].sort());
    expect(server.batches[0].update!.n).toBe(6);
    expect(server.duplicates).toEqual([]);
    expect([...a.errors, ...b.errors]).toEqual([]);
  });

  it('a batch left by a crashed tab is sealed and sent by the next tab once it has gone untouched for long', async () => {
    const server = mockServer();
    const crashed = await openTab(server);
    await crashed.stage.settle();
    await track(crashed, 'decision-1', [0, 1]);
    crashed.stage.close(); // no seal: the page crashed
    now += ABANDONED_AFTER_MS - 60_000;
    const early = await openTab(server);
    await early.stage.settle();
    await early.stage.flush();
    expect(server.batches).toEqual([]); // could still be a live tab's, whose timers lag
    early.stage.close();
    now += 2 * 60_000;
    const late = await openTab(server);
    await late.stage.settle();
    await late.stage.flush();
    expect(server.batches).toHaveLength(1);
    expect(server.batches[0].events).toHaveLength(2);
    expect(server.batches[0].update!.n).toBe(2); // the crashed tab's charge and head examples
    expect(await late.outbox.list()).toEqual([]);
  });

  it('a charged batch left by a crashed tab carries no update when the parameters now in force are below the floors', async () => {
    const crashed = await openTab(mockServer());
    await crashed.stage.settle();
    await track(crashed, 'decision-1', [0, 1]);
    crashed.stage.close();
    now += ABANDONED_AFTER_MS + 60_000;
    // The server now publishes a budget above the device's floor: no update leaves, even one charged before.
    const weakened = mockServer({ ...PRIVACY, budget: { ...PRIVACY.budget, epsilon: 1000 } });
    const next = await openTab(weakened);
    await next.stage.settle();
    await next.stage.flush();
    expect(weakened.batches.map((b) => [b.events.length, b.update])).toEqual([[2, undefined]]);
    expect(next.errors.join(' ')).toMatch(/epsilon 1000 is above this device's limit/);
  });

  it('a tab whose batch another tab sealed (its machine slept) sends its later events in a fresh batch: 6 of 6, none twice', async () => {
    const server = mockServer();
    // A's machine sleeps: none of its timers run, and its batch looks abandoned to B, which seals it.
    const { a, b } = await sealedUnderSleepingTab(server);
    expect(server.batches.map((batch) => batch.events.length)).toEqual([3]);
    // A wakes up and goes on: its save finds its batch sealed, so the new events move to a fresh one.
    await track(a, 'decision-2', [3, 4, 5]);
    await a.stage.flush();
    expect(server.batches).toHaveLength(2);
    expect(receivedActivities(server)).toEqual([...ids].sort());
    expect(server.duplicates).toEqual([]);
    // The sealed batch carried A's update; the fresh one none (one contribution per interval).
    expect(server.batches.map((batch) => batch.update?.n ?? 0)).toEqual([3, 0]);
    expect((await a.outbox.ledger()).contributions).toHaveLength(1);
    expect(await a.outbox.list()).toEqual([]);
    expect([...a.errors, ...b.errors]).toEqual([]);
  });

  it('a tab waking up to seal a batch another tab has already sent sends nothing twice', async () => {
    const server = mockServer();
    const { a } = await sealedUnderSleepingTab(server);
    expect(server.batches).toHaveLength(1);
    // A wakes up: its idle seal fires, then its page is hidden.
    await a.stage.flush();
    await a.stage.flush({ keepalive: true });
    expect(server.batches).toHaveLength(1);
    expect(server.duplicates).toEqual([]);
    expect(await a.outbox.list()).toEqual([]);
  });

  it('a reward raised after another tab sealed the batch goes out in the fresh batch', async () => {
    const server = mockServer();
    const a = await openTab(server);
    await a.stage.settle();
    const placements = a.rank();
    await a.stage.record('decision-1', ids[0], placements.get(ids[0])!, 'view');
    now += ABANDONED_AFTER_MS + 60_000;
    const b = await openTab(server);
    await b.stage.settle();
    await b.stage.flush();
    await a.stage.record('decision-1', ids[0], placements.get(ids[0])!, 'purchase');
    await a.stage.flush();
    const rewards = server.batches.map((batch) => batch.events.map((e) => [e.a, e.r]));
    expect(rewards).toEqual([[[ids[0], 0]], [[ids[0], 1]]]);
    expect(server.duplicates).toEqual([]);
  });

  it('a tab that comes back while another is starting keeps its batch: the other seals only the copy it read', async () => {
    const server = mockServer();
    const a = await openTab(server);
    await a.stage.settle();
    await track(a, 'decision-1', [0, 1, 2]);
    now += ABANDONED_AFTER_MS + 60_000;
    const release = server.holdPrivacy();
    const b = await openTab(server);
    // B has read the outbox (A's batch looks abandoned) and waits for the privacy parameters...
    await vi.waitFor(() => expect(server.privacyRequests).toBe(2));
    // ...while A wakes up and writes its batch.
    await track(a, 'decision-2', [3]);
    release();
    await b.stage.settle();
    await b.stage.flush();
    expect(server.batches).toEqual([]);
    const [open] = await b.outbox.list();
    expect(open).toMatchObject({ state: 'open', withUpdate: true });
    expect(open.events).toHaveLength(4);
    await track(a, 'decision-2', [4, 5]);
    await a.stage.flush();
    expect(server.batches).toHaveLength(1);
    expect(receivedActivities(server)).toEqual([...ids].sort());
    expect(server.duplicates).toEqual([]);
    expect([...a.errors, ...b.errors]).toEqual([]);
  });
});

describe.each([
  ['MemoryOutbox', async () => new MemoryOutbox() as SignalOutbox],
  ['IdbOutbox', async () => (await IdbOutbox.open()) as SignalOutbox],
])('%s: writes that depend on what is stored', (_, open) => {
  const accountant = () => new PrivacyAccountant(parsePrivacyParameters(PRIVACY), () => now);
  const chargeIfAllowed = (acc: PrivacyAccountant) => (ledger: Ledger) => (acc.refusal(ledger) === null ? acc.charge(ledger) : null);
  const newBatch = (owner: string) =>
    openBatch({ model: MODEL_VERSION, withUpdate: true, owner }, { now: () => now, randomBytes: cryptoBytes });
  const cryptoBytes = (n: number) => globalThis.crypto.getRandomValues(new Uint8Array(n));

  it('openWithCharge stores the batch with the charge, or without an update when the decision refuses', async () => {
    const outbox = await open();
    const acc = accountant();
    const first = await outbox.openWithCharge(newBatch('tab-1'), chargeIfAllowed(acc));
    expect(first.item.withUpdate).toBe(true);
    expect(first.ledger.contributions).toHaveLength(1);
    expect(await outbox.ledger()).toEqual(first.ledger);
    const second = await outbox.openWithCharge(newBatch('tab-2'), chargeIfAllowed(acc));
    expect(second.item.withUpdate).toBe(false);
    expect(second.ledger).toEqual(first.ledger);
    expect((await outbox.list()).map((i) => [i.owner, i.withUpdate]).sort()).toEqual([
      ['tab-1', true],
      ['tab-2', false],
    ]);
    await outbox.clear();
    outbox.close();
  });

  it('putIf writes only when the condition holds for the stored copy; removeWithLedger changes the ledger as stored', async () => {
    const outbox = await open();
    const item = newBatch('tab-1');
    expect(await outbox.putIf(item, (stored) => stored !== undefined)).toBe(false);
    expect(await outbox.list()).toEqual([]);
    expect(await outbox.putIf(item, (stored) => stored === undefined)).toBe(true);
    const body: WireBatch = { format: SIGNALS_FORMAT, id: item.id, model: item.model, events: [{ a: 'x', s: 0, p: 0.5, r: 1, t: 0 }] };
    const sealed = { ...item, state: 'sealed' as const, body };
    expect(await outbox.putIf(sealed, (stored) => stored?.state === 'open')).toBe(true);
    expect(await outbox.putIf({ ...item, touchedAt: now + 1 }, (stored) => stored?.state === 'open')).toBe(false);
    expect(await outbox.list()).toEqual([sealed]);
    const ledger = await outbox.removeWithLedger(item.id, (stored) => ({
      ...stored,
      sent: { ...stored.sent, batches: stored.sent.batches + 1 },
    }));
    expect(ledger.sent.batches).toBe(1);
    expect(await outbox.ledger()).toEqual(ledger);
    expect(await outbox.list()).toEqual([]);
    outbox.close();
  });
});

it('IdbOutbox: two connections charging at once charge once', async () => {
  const [a, b] = await Promise.all([IdbOutbox.open(), IdbOutbox.open()]);
  const acc = new PrivacyAccountant(parsePrivacyParameters(PRIVACY), () => now);
  const decide = (ledger: Ledger) => (acc.refusal(ledger) === null ? acc.charge(ledger) : null);
  const batch = (owner: string) =>
    openBatch(
      { model: MODEL_VERSION, withUpdate: true, owner },
      { now: () => now, randomBytes: (n) => crypto.getRandomValues(new Uint8Array(n)) },
    );
  const results = await Promise.all([a.openWithCharge(batch('a'), decide), b.openWithCharge(batch('b'), decide)]);
  expect(results.map((r) => r.item.withUpdate).sort()).toEqual([false, true]);
  expect((await a.ledger()).contributions).toHaveLength(1);
  a.close();
  b.close();
});
