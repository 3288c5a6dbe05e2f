import 'fake-indexeddb/auto';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { readFileSync } from 'node:fs';
import { openDB } from 'idb';
import { referenceScores } from '@vitrine/core/artifact';
import { FeatureEncoder, emptyAggregates } from '@vitrine/core/features';
import { l2Norm, sufficientStatistics, updateDimension, type HeadExample } from '@vitrine/core/privacy';
import {
  BATCH_FIELD_DESCRIPTIONS,
  MAX_BODY_BYTES,
  parseWireBatch,
  timeBucket,
  type PrivacyParameters,
  type WireBatch,
} from '@vitrine/core/protocol';
import { COUPON_CATALOG } from '@vitrine/models/datasets/coupons';
import { loadModel, type LoadedModel } from '../src/model/loader';
import { chooseSlate } from '../src/policy/epsilon-greedy';
import { openBatch, recordOutcome, sealBatch, type BatchEnv } from '../src/signals/batch';
import { IdbOutbox, MemoryOutbox, SIGNALS_DB, upgradeStoredItem, type OutboxItem, type StoredOutboxItem } from '../src/signals/outbox';
import { fillPlacements, type Placement, type RankedSlate } from '../src/signals/placement';
import { parsePrivacyParameters, updatesWanted } from '../src/signals/privacy-parameters';
import { BatchQueue } from '../src/signals/queue';
import { MAX_ATTEMPTS_PER_PAGE, SignalSender, retryDelayMs, type SendOutcomes } from '../src/signals/sender';
import { SHADOW_MAX_CANDIDATES, ShadowScorer } from '../src/signals/shadow';
import { fakeFetch, privacyParametersJson } from './helpers';

const manifestText = readFileSync(new URL('../../../models/coupons/manifest.json', import.meta.url), 'utf8');
const weightsPath = JSON.parse(manifestText).files[0].path as string;
const MODEL_VERSION = JSON.parse(manifestText).version as string;
const weightBytes = new Uint8Array(readFileSync(new URL(`../../../models/coupons/${weightsPath}`, import.meta.url)));
const MODEL_URL = 'https://shop.test/models/coupons/manifest.json';
const NOW = Date.UTC(2026, 5, 1, 13, 30);
/** The shipped model's residual head: 537 encoder inputs, 80 hidden units and 1. */
const HEAD_DIMENSION = 618;

let model: LoadedModel;
beforeAll(async () => {
  const { fetch } = fakeFetch({ [MODEL_URL]: manifestText, [new URL(weightsPath, MODEL_URL).href]: weightBytes });
  model = await loadModel(MODEL_URL, { fetch, subtle: globalThis.crypto.subtle });
});

/** Counts up from `seed`: deterministic batch ids. */
function env(seed = 1): BatchEnv {
  let next = seed;
  return { now: () => NOW, randomBytes: (n) => Uint8Array.from({ length: n }, () => next++ & 0xff) };
}

/** Privacy parameters as the server publishes them, through the SDK's own validation. */
function privacyParameters(update: Partial<PrivacyParameters['update']> = {}): PrivacyParameters {
  return parsePrivacyParameters(privacyParametersJson(MODEL_VERSION, { dimension: HEAD_DIMENSION, ...update }));
}
const params = privacyParameters();
const placement = (slot: number, extra: Partial<Placement> = {}): Placement => ({ slot, propensity: 0.9 + slot / 100, ...extra });
/** A small head example: inputs 0 and 5 (encoder), 540 (a hidden unit) and the bias term. */
const example = (logit: number): HeadExample => ({ index: [0, 5, 540, HEAD_DIMENSION - 1], value: [1, 2, 0.5, 1], logit });

/** Head examples of real slates under the shipped model: what fillPlacements keeps for a placed item. */
function modelExamples(n: number): HeadExample[] {
  const activities = COUPON_CATALOG.slice(0, n);
  const encoder = new FeatureEncoder(model.manifest.featureSpec);
  const placed: [number, Placement][] = activities.map((_, slot) => [slot, placement(slot)]);
  const slate: RankedSlate = {
    activities,
    order: activities.map((_, i) => i),
    propensities: activities.map(() => 1),
    epsilon: 0,
    encoder,
    context: { destination: 'Work', weather: 'Sunny', time: '7AM' },
    user: {},
    profile: emptyAggregates(),
  };
  fillPlacements({ slate, placed, updateModel: model, shadow: null });
  return placed.map(([, p]) => p.example!);
}

/** Records a click on activity 'a' placed at slot 0 of decision 'd', with the head example `x`. */
function clickA(item: Parameters<typeof recordOutcome>[0], x: HeadExample, withShadow = false): void {
  recordOutcome(item, { key: 'd:a', activityId: 'a', placement: placement(0, { example: x }), reward: 1, at: NOW, withShadow });
}

describe('batch building and sealing (pure)', () => {
  it('opens a batch from the injected clock and random bytes, named after the tab that opens it', () => {
    const plain = openBatch({ model: 'm1', withUpdate: false, owner: 'tab-1' }, env(0));
    expect(plain).toEqual({
      id: '000102030405060708090a0b0c0d0e0f',
      state: 'open',
      model: 'm1',
      events: [],
      withUpdate: false,
      owner: 'tab-1',
      touchedAt: NOW,
      attempts: 0,
      nextAt: 0,
      createdAt: NOW,
    });
    // An update needs nothing drawn at opening (no local noise any more): only the flag differs.
    const withUpdate = openBatch({ model: 'm1', shadow: 's1', withUpdate: true, owner: 'tab-1' }, env(0));
    expect(withUpdate).toEqual({ ...plain, shadow: 's1', withUpdate: true });
  });

  it('keeps one event per placed item, with named fields; a later, better outcome raises its reward', () => {
    const item = openBatch({ model: 'm1', withUpdate: true, owner: 'tab-1' }, env());
    const p0 = placement(0, { shadowPropensity: 0.5, example: example(0.3) });
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
        example: example(0.3),
      },
      { key: 'd:b', activityId: 'b', slot: 1, propensity: 0.91, reward: 0, timeBucket: timeBucket(NOW) },
    ]);
  });

  it('a batch without an update keeps no head example', () => {
    const item = openBatch({ model: 'm1', withUpdate: false, owner: 'tab-1' }, env());
    clickA(item, example(0));
    expect(item.events[0]).not.toHaveProperty('example');
  });

  it('seals to the exact wire body (compact names, no keys or head examples), the same bytes every time', () => {
    const [x0, x1] = modelExamples(2);
    const item = openBatch({ model: model.manifest.version, shadow: 'shadow-1', withUpdate: true, owner: 'tab-1' }, env());
    recordOutcome(item, {
      key: 'd:a',
      activityId: 'a',
      placement: placement(0, { shadowPropensity: 0.25, example: x0 }),
      reward: 1,
      at: NOW,
      withShadow: true,
    });
    recordOutcome(item, { key: 'd:b', activityId: 'b', placement: placement(1, { example: x1 }), reward: 0, at: NOW, withShadow: true });
    const context = { modelVersion: model.manifest.version, params };
    const sealed = sealBatch(item, context);
    expect(sealed).toMatchObject({ id: item.id, state: 'sealed', events: [] });
    const body = sealed.body!;
    expect(parseWireBatch(JSON.parse(JSON.stringify(body)))).toEqual(body);
    expect(Object.keys(body)).toEqual(['format', 'id', 'model', 'shadow', 'events', 'update']);
    expect(body.events).toEqual([
      { a: 'a', s: 0, p: 0.9, r: 1, t: timeBucket(NOW), q: 0.25 },
      { a: 'b', s: 1, p: 0.91, r: 0, t: timeBucket(NOW) },
    ]);
    const { g, h, n } = body.update!;
    expect(n).toBe(2);
    expect(g).toHaveLength(HEAD_DIMENSION);
    expect(h).toHaveLength(HEAD_DIMENSION);
    // What one device adds to the round's sums is bounded: the clip norms are the sensitivity.
    expect(l2Norm(g)).toBeLessThanOrEqual(params.update.clipGradient);
    expect(l2Norm(h)).toBeLessThanOrEqual(params.update.clipCurvature);
    expect(h.every((x) => x >= 0)).toBe(true);
    // The clipped sufficient statistics of these two events, to 6 significant digits (toward zero).
    const stats = sufficientStatistics(
      [
        { example: x0, reward: 1 },
        { example: x1, reward: 0 },
      ],
      HEAD_DIMENSION,
      params.update.clipGradient,
      params.update.clipCurvature,
    );
    g.forEach((x, j) => expect(Math.abs(x - stats.gradient[j])).toBeLessThanOrEqual(1e-5 * Math.abs(stats.gradient[j])));
    h.forEach((x, j) => expect(Math.abs(x - stats.curvature[j])).toBeLessThanOrEqual(1e-5 * stats.curvature[j]));
    // Sealed again after a crash: same bytes (the server keeps one copy).
    expect(JSON.stringify(sealBatch(item, context).body)).toBe(JSON.stringify(body));
  });

  it('the update is the log loss gradient and curvature of the head, scaled onto the clip ball only when above it', () => {
    const item = openBatch({ model: model.manifest.version, withUpdate: true, owner: 'tab-1' }, env());
    // logit 0: p = 1/2; a click (y = 1) gives u (p − y) = −u/2 and p (1 − p) u² = u²/4.
    clickA(item, example(0));
    const unclipped = sealBatch(item, {
      modelVersion: model.manifest.version,
      params: privacyParameters({ clipGradient: 10, clipCurvature: 10 }),
    });
    const { g, h } = unclipped.body!.update!;
    const nonzero = (v: number[]) => v.flatMap((x, j) => (x === 0 ? [] : [[j, x]]));
    expect(nonzero(g)).toEqual([
      [0, -0.5],
      [5, -1],
      [540, -0.25],
      [617, -0.5],
    ]);
    expect(nonzero(h)).toEqual([
      [0, 0.25],
      [5, 1],
      [540, 0.0625],
      [617, 0.25],
    ]);
    // ||g|| = 1.25 and ||h|| ≈ 1.06: with clips 1 and 0.5 both are scaled down, direction kept.
    const clipped = sealBatch(item, { modelVersion: model.manifest.version, params }).body!.update!;
    expect(l2Norm(clipped.g)).toBeLessThanOrEqual(1);
    expect(l2Norm(clipped.g)).toBeCloseTo(1, 5);
    expect(l2Norm(clipped.h)).toBeLessThanOrEqual(0.5);
    expect(l2Norm(clipped.h)).toBeCloseTo(0.5, 5);
    clipped.g.forEach((x, j) => expect(x).toBeCloseTo(g[j] / l2Norm(g), 5));
  });

  it('seals without an update before the privacy parameters arrive or for another model, and names no unused shadow', () => {
    const item = openBatch({ model: model.manifest.version, shadow: 'shadow-1', withUpdate: true, owner: 'tab-1' }, env());
    clickA(item, example(1), true);
    const noParams = sealBatch(item, { modelVersion: model.manifest.version, params: null }).body!;
    expect(Object.keys(noParams)).toEqual(['format', 'id', 'model', 'events']);
    const newerModel = sealBatch(item, { modelVersion: 'coupons-next', params }).body!;
    expect(newerModel.update).toBeUndefined();
  });
});

/** An open batch exactly as SDK 0.3 stored it in IndexedDB: wire names, pre-activations `z`, a noise seed. */
function sdk03OpenItem(modelVersion: string): StoredOutboxItem {
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
      { key: 'd1:a', a: 'a', s: 0, p: 0.9, r: 1, t: timeBucket(NOW), q: 0.3, z: preActivations(1) },
      { key: 'd1:b', a: 'b', s: 1, p: 0.05, r: 0, t: timeBucket(NOW) },
    ],
  } as unknown as StoredOutboxItem;
}

/** An open batch as SDK 0.4 stored it: named fields, first-layer `preActivations`, a noise seed. */
function sdk04OpenItem(modelVersion: string): StoredOutboxItem {
  return {
    id: 'abcdefabcdefabcdefabcdefabcdef02',
    state: 'open',
    model: modelVersion,
    shadow: 'shadow-1',
    withUpdate: true,
    noiseSeed: [5, 6, 7, 8],
    attempts: 0,
    nextAt: 0,
    createdAt: NOW,
    events: [
      {
        key: 'd1:a',
        activityId: 'a',
        slot: 0,
        propensity: 0.9,
        reward: 1,
        timeBucket: timeBucket(NOW),
        shadowPropensity: 0.3,
        preActivations: preActivations(1),
      },
      { key: 'd1:b', activityId: 'b', slot: 1, propensity: 0.05, reward: 0, timeBucket: timeBucket(NOW) },
    ],
  } as unknown as StoredOutboxItem;
}

/** What the previous update was computed from: one number per first-layer unit. */
const preActivations = (k: number) => Array.from({ length: 80 }, (_, i) => Math.sin(i + k));

/** The events of both legacy items, read in the current shape: no pre-activations, nothing to compute an update from. */
const upgradedEvents = [
  { key: 'd1:a', activityId: 'a', slot: 0, propensity: 0.9, reward: 1, timeBucket: timeBucket(NOW), shadowPropensity: 0.3 },
  { key: 'd1:b', activityId: 'b', slot: 1, propensity: 0.05, reward: 0, timeBucket: timeBucket(NOW) },
];

describe('outbox records of previous SDK versions', () => {
  it.each([
    ['0.3 (wire names, z)', sdk03OpenItem],
    ['0.4 (named fields, preActivations)', sdk04OpenItem],
  ])('reads an SDK %s open batch in the current shape and seals it to the same events, without an update', (_, stored) => {
    const legacy = stored(model.manifest.version);
    const upgraded = upgradeStoredItem(legacy);
    expect(upgraded.events).toEqual(upgradedEvents);
    // No owner (no SDK before this one named its tab), and the creation is the last write known.
    const { noiseSeed: _seed, ...rest } = legacy;
    expect({ ...upgraded, events: [] }).toEqual({ ...rest, owner: '', touchedAt: NOW, events: [] });
    expect(upgraded).not.toHaveProperty('noiseSeed');
    const body = sealBatch(upgraded, { modelVersion: model.manifest.version, params }).body!;
    // Its rewards and propensities still reach the server; its pre-activations fit no head, so
    // no update goes out (its charge stays on the ledger: an overcount, never an undercount).
    expect(body).toEqual({
      format: 'vitrine-signals@1',
      id: legacy.id,
      model: model.manifest.version,
      shadow: 'shadow-1',
      events: [
        { a: 'a', s: 0, p: 0.9, r: 1, t: timeBucket(NOW), q: 0.3 },
        { a: 'b', s: 1, p: 0.05, r: 0, t: timeBucket(NOW) },
      ],
    });
  });

  it('leaves current open items and sealed items as they are', () => {
    const current = openBatch({ model: 'm1', withUpdate: true, owner: 'tab-1' }, env());
    clickA(current, example(0));
    expect(upgradeStoredItem(current)).toEqual(current);
    const sealed = sealBatch(current, { modelVersion: 'm1', params: null });
    expect(upgradeStoredItem(sealed)).toEqual(sealed);
  });

  it('IdbOutbox.list() upgrades what previous versions left in IndexedDB', async () => {
    const box = await IdbOutbox.open();
    await box.clear();
    box.close();
    const raw = await openDB(SIGNALS_DB, 1);
    await raw.put('outbox', sdk03OpenItem('m1'));
    await raw.put('outbox', sdk04OpenItem('m1'));
    raw.close();
    const reopened = await IdbOutbox.open();
    const items = await reopened.list();
    expect(items.map((i) => i.events)).toEqual([upgradedEvents, upgradedEvents]);
    for (const item of items) {
      expect(item).toMatchObject({ owner: '', touchedAt: NOW });
      expect(item).not.toHaveProperty('noiseSeed');
    }
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

  it("fills head examples (the residual head's sparse inputs and the logit) and shadow propensities into the placements", () => {
    const s = slate(12);
    const placed: [number, Placement][] = [0, 1, 2].map((slot) => [slot, placement(slot)]);
    fillPlacements({ slate: s, placed, updateModel: model, shadow: new ShadowScorer(model) });
    const inputs = model.manifest.featureSpec.dimension;
    const rows = s.encoder.encodeBatch(
      placed.map(([slot]) => s.activities[s.order[slot]]),
      s.context,
      s.user,
      s.profile,
    );
    const scores = referenceScores(model.manifest, model.weights, rows, placed.length);
    placed.forEach(([, p], k) => {
      const { index, value, logit } = p.example!;
      expect(index).toHaveLength(value.length);
      expect(index.every((j) => j >= 0 && j < HEAD_DIMENSION)).toBe(true);
      // [x; h; 1]: the encoder row's nonzero entries, the active hidden units, then the bias term.
      const row = rows.subarray(k * inputs, (k + 1) * inputs);
      const xPart = index.flatMap((j, m) => (j < inputs ? [[j, value[m]]] : []));
      expect(xPart).toEqual([...row].flatMap((x, j) => (x === 0 ? [] : [[j, x]])));
      expect(index.at(-1)).toBe(HEAD_DIMENSION - 1);
      expect(value.at(-1)).toBe(1);
      expect(value.every((x, m) => index[m] < inputs || x > 0)).toBe(true);
      // The logit is the published model's: its sigmoid is the score the item was ranked by.
      expect(1 / (1 + Math.exp(-logit))).toBeCloseTo(scores[k], 6);
      expect(p.shadowPropensity).toBeGreaterThan(0);
    });
    const bare: [number, Placement][] = [[0, placement(0)]];
    fillPlacements({ slate: s, placed: bare, updateModel: null, shadow: null });
    expect(bare[0][1]).toEqual(placement(0));
  });
});

describe('privacy parameters', () => {
  it('names the first invalid field', () => {
    expect(() => parsePrivacyParameters({ format: 'vitrine-privacy@1', budget: { epsilon: -1 } })).toThrow(/invalid at budget\.epsilon/);
  });

  it('asks for updates only of this model, by the residual-head method, at its head dimension', () => {
    expect(updateDimension(model.manifest)).toBe(HEAD_DIMENSION);
    expect(updatesWanted(params, model.manifest)).toBe(true);
    expect(updatesWanted(privacyParameters({ model: 'coupons-other' }), model.manifest)).toBe(false);
    expect(updatesWanted(privacyParameters({ method: 'first-layer-gradient@1' }), model.manifest)).toBe(false);
    expect(updatesWanted(privacyParameters({ dimension: 161 }), model.manifest)).toBe(false);
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
    return {
      id,
      state: 'sealed',
      model: 'm1',
      events: [],
      withUpdate: false,
      body,
      owner: 'tab-1',
      touchedAt: 0,
      attempts: 0,
      nextAt: 0,
      createdAt: 0,
    };
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

  it('at page exit sends with keepalive what fits in one 64 KiB budget per page, never a batch still in flight', async () => {
    const { queue, sender, requests } = setup([], { hang: true }); // the page is going away: no answer arrives
    // ~27 KB each: two fit in the page's keepalive budget, the third waits in the outbox.
    for (const id of ['a', 'b', 'c']) await queue.add(sealedItem(id, 600));
    await sender.sendDue(true);
    expect(requests.map((r) => JSON.parse(r.body as string).id)).toEqual(['a', 'b']);
    // pagehide after visibilitychange: a and b are still in flight and hold the budget, so c still waits.
    await sender.sendDue(true);
    expect(requests.map((r) => JSON.parse(r.body as string).id)).toEqual(['a', 'b']);
    const bytes = requests.reduce((sum, r) => sum + new TextEncoder().encode(r.body as string).length, 0);
    expect(bytes).toBeLessThanOrEqual(MAX_BODY_BYTES);
    expect(requests.every((r) => r.keepalive)).toBe(true);
  });

  it('a keepalive budget is free again once its requests have finished', async () => {
    const { queue, sender, requests } = setup([]); // answered at once (the page stayed: hidden, then visible)
    for (const id of ['a', 'b', 'c']) await queue.add(sealedItem(id, 600));
    await sender.sendDue(true);
    await new Promise((r) => setTimeout(r, 0));
    await sender.sendDue(true);
    expect(requests.map((r) => JSON.parse(r.body as string).id)).toEqual(['a', 'b', 'c']);
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
