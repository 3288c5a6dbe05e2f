import 'fake-indexeddb/auto';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { readFileSync } from 'node:fs';
import { openDB } from 'idb';
import { referenceScores } from '@vitrine/core/artifact';
import { FeatureEncoder, emptyAggregates } from '@vitrine/core/features';
import { BATCH_FIELD_DESCRIPTIONS, parseWireBatch, timeBucket, type PrivacyParameters, type WireBatch } from '@vitrine/core/protocol';
import { COUPON_CATALOG } from '@vitrine/models/datasets/coupons';
import { loadModel, type LoadedModel } from '../src/model/loader';
import { chooseSlate } from '../src/policy/epsilon-greedy';
import { openBatch, recordOutcome, sealBatch, type BatchEnv } from '../src/signals/batch';
import { IdbOutbox, MemoryOutbox, SIGNALS_DB, upgradeStoredItem, type OutboxItem, type StoredOutboxItem } from '../src/signals/outbox';
import { fillPlacements, type Placement, type RankedSlate } from '../src/signals/placement';
import { parsePrivacyParameters } from '../src/signals/privacy-parameters';
import { BatchQueue } from '../src/signals/queue';
import { MAX_ATTEMPTS_PER_PAGE, SignalSender, retryDelayMs, type SendOutcomes } from '../src/signals/sender';
import { SHADOW_MAX_CANDIDATES, ShadowScorer } from '../src/signals/shadow';
import { fakeFetch } from './helpers';

const manifestText = readFileSync(new URL('../../../models/coupons/manifest.json', import.meta.url), 'utf8');
const weightsPath = JSON.parse(manifestText).files[0].path as string;
const weightBytes = new Uint8Array(readFileSync(new URL(`../../../models/coupons/${weightsPath}`, import.meta.url)));
const MODEL_URL = 'https://shop.test/models/coupons/manifest.json';
const NOW = Date.UTC(2026, 5, 1, 13, 30);

let model: LoadedModel;
beforeAll(async () => {
  const { fetch } = fakeFetch({ [MODEL_URL]: manifestText, [new URL(weightsPath, MODEL_URL).href]: weightBytes });
  model = await loadModel(MODEL_URL, { fetch, subtle: globalThis.crypto.subtle });
});

/** Counts up from `seed`: deterministic ids and noise seeds. */
function env(seed = 1): BatchEnv {
  let next = seed;
  return { now: () => NOW, randomBytes: (n) => Uint8Array.from({ length: n }, () => next++ & 0xff) };
}

const params = {
  update: { model: 'coupons-d3b9f1bf53e7', clipNorm: 1, localNoiseStd: 0.1 },
} as unknown as PrivacyParameters;
const z = (k: number) => Array.from({ length: 80 }, (_, i) => Math.sin(i + k));
const placement = (slot: number, extra: Partial<Placement> = {}): Placement => ({ slot, propensity: 0.9 + slot / 100, ...extra });

describe('batch building and sealing (pure)', () => {
  it('opens a batch from the injected clock and random bytes; only an update batch gets a noise seed', () => {
    const plain = openBatch({ model: 'm1', withUpdate: false }, env(0));
    expect(plain).toEqual({
      id: '000102030405060708090a0b0c0d0e0f',
      state: 'open',
      model: 'm1',
      events: [],
      withUpdate: false,
      attempts: 0,
      nextAt: 0,
      createdAt: NOW,
    });
    const withUpdate = openBatch({ model: 'm1', shadow: 's1', withUpdate: true }, env(0));
    expect(withUpdate).toMatchObject({ shadow: 's1', withUpdate: true });
    expect(withUpdate.noiseSeed).toEqual([0x13121110, 0x17161514, 0x1b1a1918, 0x1f1e1d1c]);
  });

  it('keeps one event per placed item, with named fields; a later, better outcome raises its reward', () => {
    const item = openBatch({ model: 'm1', withUpdate: true }, env());
    const p0 = placement(0, { shadowPropensity: 0.5, preActivations: Float32Array.from(z(0)) });
    recordOutcome(item, { key: 'd:a', activityId: 'a', placement: p0, reward: 0, at: NOW, withShadow: true });
    recordOutcome(item, { key: 'd:a', activityId: 'a', placement: p0, reward: 1, at: NOW + 5, withShadow: true });
    recordOutcome(item, { key: 'd:a', activityId: 'a', placement: p0, reward: 0, at: NOW + 9, withShadow: true });
    const p1 = placement(1, { shadowPropensity: 0.2 });
    recordOutcome(item, { key: 'd:b', activityId: 'b', placement: p1, reward: 0, at: NOW, withShadow: false });
    expect(item.events).toEqual([
      {
        key: 'd:a',
        activityId: 'a',
        slot: 0,
        propensity: 0.9,
        reward: 1,
        timeBucket: timeBucket(NOW),
        shadowPropensity: 0.5,
        preActivations: Array.from(Float32Array.from(z(0))),
      },
      { key: 'd:b', activityId: 'b', slot: 1, propensity: 0.91, reward: 0, timeBucket: timeBucket(NOW) },
    ]);
  });

  it('seals to the exact wire body (compact names, no keys or pre-activations), the same bytes every time', () => {
    const item = openBatch({ model: model.manifest.version, shadow: 'shadow-1', withUpdate: true }, env());
    const p0 = placement(0, { shadowPropensity: 0.25, preActivations: Float32Array.from(z(1)) });
    const p1 = placement(1, { preActivations: Float32Array.from(z(2)) });
    recordOutcome(item, { key: 'd:a', activityId: 'a', placement: p0, reward: 1, at: NOW, withShadow: true });
    recordOutcome(item, { key: 'd:b', activityId: 'b', placement: p1, reward: 0, at: NOW, withShadow: true });
    const context = { modelVersion: model.manifest.version, weights: model.weights, params };
    const sealed = sealBatch(item, context);
    expect(sealed).toMatchObject({ id: item.id, state: 'sealed', events: [] });
    const body = sealed.body!;
    expect(parseWireBatch(JSON.parse(JSON.stringify(body)))).toEqual(body);
    expect(Object.keys(body)).toEqual(['format', 'id', 'model', 'shadow', 'events', 'update']);
    expect(body.events).toEqual([
      { a: 'a', s: 0, p: 0.9, r: 1, t: timeBucket(NOW), q: 0.25 },
      { a: 'b', s: 1, p: 0.91, r: 0, t: timeBucket(NOW) },
    ]);
    expect(body.update!.n).toBe(2);
    expect(body.update!.g).toHaveLength(161);
    // Sealed again after a crash: same noise seed, same bytes (the server keeps one copy).
    expect(JSON.stringify(sealBatch(item, context).body)).toBe(JSON.stringify(body));
  });

  it('seals without an update before the privacy parameters arrive or for another model, and names no unused shadow', () => {
    const item = openBatch({ model: model.manifest.version, shadow: 'shadow-1', withUpdate: true }, env());
    const p0 = placement(0, { preActivations: Float32Array.from(z(1)) });
    recordOutcome(item, { key: 'd:a', activityId: 'a', placement: p0, reward: 1, at: NOW, withShadow: true });
    const noParams = sealBatch(item, { modelVersion: model.manifest.version, weights: model.weights, params: null }).body!;
    expect(Object.keys(noParams)).toEqual(['format', 'id', 'model', 'events']);
    const newerModel = sealBatch(item, { modelVersion: 'coupons-next', weights: model.weights, params }).body!;
    expect(newerModel.update).toBeUndefined();
  });
});

/** An open batch exactly as SDK 0.3 stored it in IndexedDB. */
function legacyOpenItem(modelVersion: string): StoredOutboxItem {
  return {
    id: 'abcdefabcdefabcdefabcdefabcdef01',
    state: 'open',
    model: modelVersion,
    shadow: 'shadow-1',
    withUpdate: true,
    noiseSeed: [1, 2, 3, 4],
    attempts: 0,
    nextAt: 0,
    createdAt: NOW,
    events: [
      { key: 'd1:a', a: 'a', s: 0, p: 0.9, r: 1, t: timeBucket(NOW), q: 0.3, z: z(1) },
      { key: 'd1:b', a: 'b', s: 1, p: 0.05, r: 0, t: timeBucket(NOW) },
    ],
  } as unknown as StoredOutboxItem;
}

describe('outbox records of the previous SDK version', () => {
  it('reads a legacy open batch (wire names, z) with named fields, and seals it to the same wire body', () => {
    const legacy = legacyOpenItem(model.manifest.version);
    const upgraded = upgradeStoredItem(legacy);
    expect(upgraded.events).toEqual([
      {
        key: 'd1:a',
        activityId: 'a',
        slot: 0,
        propensity: 0.9,
        reward: 1,
        timeBucket: timeBucket(NOW),
        shadowPropensity: 0.3,
        preActivations: z(1),
      },
      { key: 'd1:b', activityId: 'b', slot: 1, propensity: 0.05, reward: 0, timeBucket: timeBucket(NOW) },
    ]);
    expect({ ...upgraded, events: [] }).toEqual({ ...legacy, events: [] });
    const body = sealBatch(upgraded, { modelVersion: model.manifest.version, weights: model.weights, params }).body!;
    // What SDK 0.3 itself would have sent for this item: its events minus key and z, and an update of one example.
    expect(body.events).toEqual([
      { a: 'a', s: 0, p: 0.9, r: 1, t: timeBucket(NOW), q: 0.3 },
      { a: 'b', s: 1, p: 0.05, r: 0, t: timeBucket(NOW) },
    ]);
    expect(body).toMatchObject({ id: legacy.id, shadow: 'shadow-1', update: { n: 1 } });
  });

  it('leaves current open items and sealed items as they are', () => {
    const current = openBatch({ model: 'm1', withUpdate: false }, env());
    recordOutcome(current, { key: 'd:a', activityId: 'a', placement: placement(0), reward: 1, at: NOW, withShadow: false });
    expect(upgradeStoredItem(current)).toEqual(current);
    const sealed = sealBatch(current, { modelVersion: 'm1', weights: new Map(), params: null });
    expect(upgradeStoredItem(sealed)).toEqual(sealed);
  });

  it('IdbOutbox.list() upgrades what the previous version left in IndexedDB', async () => {
    const box = await IdbOutbox.open();
    await box.clear();
    box.close();
    const raw = await openDB(SIGNALS_DB, 1);
    await raw.put('outbox', legacyOpenItem('m1'));
    raw.close();
    const reopened = await IdbOutbox.open();
    const [item] = await reopened.list();
    expect(item.events.map((e) => [e.activityId, e.slot, e.propensity, e.reward, e.shadowPropensity, e.preActivations?.length])).toEqual([
      ['a', 0, 0.9, 1, 0.3, 80],
      ['b', 1, 0.05, 0, undefined, undefined],
    ]);
    await reopened.clear();
    reopened.close();
  });
});

describe('shadow propensities and update terms', () => {
  function slate(n: number, epsilon = 0.1): RankedSlate {
    const activities = Array.from({ length: n }, (_, i) => ({ ...COUPON_CATALOG[i % COUPON_CATALOG.length], id: `c${i}` }));
    const encoder = new FeatureEncoder(model.manifest.featureSpec);
    const context = { destination: 'Work', weather: 'Sunny', time: '7AM' };
    const profile = emptyAggregates();
    const scores = referenceScores(model.manifest, model.weights, encoder.encodeBatch(activities, context, {}, profile), n);
    const choice = chooseSlate(scores, 3, epsilon, () => 0.99);
    return { ...choice, activities, epsilon, encoder, context, user: {}, profile };
  }

  it('a shadow identical to the ranking model gives the logging propensities', () => {
    const s = slate(12);
    const q = new ShadowScorer(model).propensities(s, [0, 1, 2]);
    expect(q).not.toBeNull();
    q!.forEach((x, k) => expect(x).toBeCloseTo(s.propensities[k], 12));
  });

  it(`skips shadow scoring above ${SHADOW_MAX_CANDIDATES} candidates`, () => {
    expect(new ShadowScorer(model).propensities(slate(SHADOW_MAX_CANDIDATES + 1), [0])).toBeNull();
  });

  it('fills pre-activations (first-layer units) and shadow propensities into the placements', () => {
    const s = slate(12);
    const placed: [number, Placement][] = [0, 1, 2].map((slot) => [slot, placement(slot)]);
    fillPlacements({ slate: s, placed, updateModel: model, shadow: new ShadowScorer(model) });
    for (const [, p] of placed) {
      expect(p.preActivations).toHaveLength(80);
      expect(p.shadowPropensity).toBeGreaterThan(0);
    }
    const bare: [number, Placement][] = [[0, placement(0)]];
    fillPlacements({ slate: s, placed: bare, updateModel: null, shadow: null });
    expect(bare[0][1]).toEqual(placement(0));
  });
});

describe('privacy parameters', () => {
  it('names the first invalid field', () => {
    expect(() => parsePrivacyParameters({ format: 'vitrine-privacy@1', budget: { epsilon: -1 } })).toThrow(/invalid at budget\.epsilon/);
  });

  it('the report lists the wire fields, from the protocol', () => {
    expect(BATCH_FIELD_DESCRIPTIONS).toContain('events[].q shadow propensity');
  });
});

describe('sender', () => {
  afterEach(() => vi.unstubAllGlobals());

  function sealedItem(id: string, events = 1): OutboxItem {
    const body: WireBatch = {
      format: 'vitrine-signals@1',
      id,
      model: 'm1',
      events: Array.from({ length: events }, (_, i) => ({ a: `activity-${i}`, s: 0, p: 0.5, r: 1, t: 0 })),
    };
    return { id, state: 'sealed', model: 'm1', events: [], withUpdate: false, body, attempts: 0, nextAt: 0, createdAt: 0 };
  }

  /** A sender over a memory queue; the network answers `answers` in turn, or never with `hang`. */
  function setup(answers: (Response | Error)[], options: { now?: () => number; hang?: boolean } = {}) {
    const outbox = new MemoryOutbox();
    const queue = new BatchQueue(outbox, () => undefined);
    const requests: RequestInit[] = [];
    const log: string[] = [];
    const wakes: number[] = [];
    const outcomes: SendOutcomes = {
      acknowledged: async (item) => {
        queue.take(item.id);
        log.push(`ack ${item.id}`);
      },
      dropped: async (item, reason) => {
        queue.take(item.id);
        log.push(`drop ${item.id} ${reason}`);
      },
    };
    const fetchImpl = (async (_url: string, init: RequestInit) => {
      requests.push(init);
      if (options.hang) return new Promise<Response>(() => undefined);
      const answer = answers.shift() ?? new Response('{}', { status: 202 });
      if (answer instanceof Error) throw answer;
      return answer;
    }) as unknown as typeof fetch;
    const sender = new SignalSender(
      {
        fetch: fetchImpl,
        url: 'https://vitrine.test/v1/signals',
        now: options.now ?? (() => 1_000),
        random: () => 0,
        wake: (ms) => wakes.push(ms),
      },
      queue,
      outcomes,
    );
    return { queue, outbox, sender, requests, log, wakes };
  }

  it('backs off with jitter, honours Retry-After, and drops only on 400/413', async () => {
    expect(retryDelayMs(0, null, () => 0)).toBe(1_000);
    expect(retryDelayMs(3, null, () => 1)).toBe(16_000);
    expect(retryDelayMs(20, null, () => 1)).toBe(600_000);
    expect(retryDelayMs(0, 120, () => 0)).toBe(120_000);
    const { queue, sender, log, requests, wakes } = setup([
      new Response('', { status: 503 }),
      new Response('', { status: 429, headers: { 'retry-after': '120' } }),
      new TypeError('network down'),
      new Response('bad field', { status: 400 }),
      new Response('too big', { status: 413 }),
    ]);
    for (const id of ['a', 'b', 'c', 'd', 'e', 'f']) await queue.add(sealedItem(id));
    await sender.sendDue(false);
    for (const r of requests) {
      expect(r).toMatchObject({ method: 'POST', credentials: 'omit', referrerPolicy: 'no-referrer', keepalive: false });
    }
    expect(log).toEqual(['drop d HTTP 400 bad field', 'drop e HTTP 413 too big', 'ack f']);
    expect(queue.items.map((i) => [i.id, i.attempts, i.nextAt])).toEqual([
      ['a', 1, 2_000],
      ['b', 1, 121_000],
      ['c', 1, 2_000],
    ]);
    expect(wakes).toEqual([1_000]);
  });

  it(`retries on its own ${MAX_ATTEMPTS_PER_PAGE} times per page, then leaves the batch for the next page`, async () => {
    let now = 0;
    const unavailable = Array.from({ length: 20 }, () => new Response('', { status: 503 }));
    const { queue, sender, requests, wakes } = setup(unavailable, { now: () => now });
    await queue.add(sealedItem('a'));
    await sender.sendDue(false);
    // What the stage's timer does: wake the sender when it asked to be woken.
    while (wakes.length) {
      now += wakes.shift()!;
      await sender.sendDue(false);
    }
    expect(requests).toHaveLength(MAX_ATTEMPTS_PER_PAGE);
    expect(queue.items.map((i) => i.attempts)).toEqual([MAX_ATTEMPTS_PER_PAGE]); // waits in the outbox
  });

  it('at page exit sends with keepalive what fits in 64 KiB, and never a batch still in flight', async () => {
    const { queue, sender, requests } = setup([], { hang: true }); // the page is going away: no answer arrives
    // ~27 KB each: two fit in one keepalive pass, the third waits.
    for (const id of ['a', 'b', 'c']) await queue.add(sealedItem(id, 600));
    await sender.sendDue(true);
    expect(requests.map((r) => JSON.parse(r.body as string).id)).toEqual(['a', 'b']);
    await sender.sendDue(true); // pagehide after visibilitychange: a and b are still in flight
    expect(requests.map((r) => JSON.parse(r.body as string).id)).toEqual(['a', 'b', 'c']);
    expect(requests.every((r) => r.keepalive)).toBe(true);
    await sender.sendDue(true);
    expect(requests).toHaveLength(3);
  });

  it('pauses while offline and resumes when the browser is back online', async () => {
    const listeners: Record<string, () => void> = {};
    vi.stubGlobal('navigator', { onLine: false });
    vi.stubGlobal('addEventListener', (type: string, fn: () => void) => {
      listeners[type] = fn;
    });
    const { queue, sender, requests, wakes } = setup([]);
    await queue.add(sealedItem('a'));
    await sender.sendDue(false);
    expect(requests).toHaveLength(0);
    listeners.online();
    expect(wakes).toEqual([0]);
  });
});
