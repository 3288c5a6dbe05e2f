import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { openDB } from 'idb';
import { applyEvent, emptyAggregates, type ProfileEvent } from '@vitrine/core/features';
import { IdbConnection, isConnectionError } from '../src/idb-connection';
import { DB_NAME, IdbProfileStore } from '../src/profile/idb-store';
import { MemoryProfileStore } from '../src/profile/memory-store';
import { parseAggregates, parseEvent } from '../src/profile/records';
import { ResilientProfileStore } from '../src/profile/resilient-store';
import { PrivacyAccountant } from '../src/signals/accountant';
import { IdbOutbox, SIGNALS_DB } from '../src/signals/outbox';
import { parseLedger, parseStoredItem } from '../src/signals/outbox-records';
import { parsePrivacyParameters, privacyRefusal, shadowUrl, DEFAULT_PRIVACY_FLOORS } from '../src/signals/privacy-parameters';
import { deleteDatabase } from '../src/platform';
import { privacyParametersJson } from './helpers';

const HOUR = 3_600_000;
const event = (activityId: string, outcome: ProfileEvent['outcome'] = 'click', hour = 0): ProfileEvent => ({
  activityId,
  activityType: 'Bar',
  outcome,
  hour,
});

afterEach(async () => {
  await deleteDatabase(DB_NAME);
  await deleteDatabase(SIGNALS_DB);
});

describe('profile records read back from storage', () => {
  it('accepts what applyEvent writes, activity ids "constructor" and "__proto__" included, and keeps their counts', () => {
    const written = ['constructor', '__proto__', 'toString', 'bar-2h'].reduce((a, id) => applyEvent(a, event(id)), emptyAggregates());
    const read = parseAggregates(structuredClone(written))!;
    expect(read).not.toBeNull();
    for (const id of ['constructor', '__proto__', 'toString', 'bar-2h']) {
      expect(Object.getOwnPropertyDescriptor(read.byActivity, id)?.value).toMatchObject({ positives: 1 });
    }
    expect(Object.getPrototypeOf(read.byActivity)).toBeNull();
  });

  it('refuses strings, half-empty records, junk and NaN counts, and a bad entry under any key', () => {
    const ok = applyEvent(emptyAggregates(), event('a'));
    for (const bad of [
      'garbage',
      null,
      { schema: 1 },
      { ...ok, total: { views: 'x', positives: 0, negatives: 0 } },
      { ...ok, total: { views: NaN, positives: 0, negatives: 0 } },
      { ...ok, byType: { Bar: { views: -1, positives: 0, negatives: 0 } } },
      { ...ok, byActivity: JSON.parse('{"constructor": {"views": 1.5, "positives": 0, "negatives": 0}}') },
      { ...ok, recent: 'nope' },
    ]) {
      expect(parseAggregates(bad)).toBeNull();
    }
  });

  it('never throws and never lets a non-finite count through, whatever is stored (fast-check)', () => {
    fc.assert(
      fc.property(fc.anything({ withObjectString: true, withNullPrototype: true, withBigInt: true }), (raw) => {
        const parsed = parseAggregates(raw);
        if (parsed) for (const c of [parsed.total, ...Object.values(parsed.byType)]) expect(Number.isFinite(c.views)).toBe(true);
        parseEvent(raw);
      }),
      { numRuns: 500, seed: 10 },
    );
  });
});

describe('IndexedDB profile store with corrupt records', () => {
  async function seed(aggregates: unknown, events: unknown[]) {
    const db = await openDB(DB_NAME, 1, {
      upgrade(d) {
        d.createObjectStore('events', { autoIncrement: true }).createIndex('hour', 'hour');
        d.createObjectStore('state');
      },
    });
    for (const e of events) await db.add('events', e);
    if (aggregates !== undefined) await db.put('state', aggregates, 'aggregates');
    db.close();
  }

  it('rebuilds a corrupt aggregate record from the valid events, deletes the invalid ones, and says so', async () => {
    await seed('garbage', [event('a', 'click', HOUR), { junk: 1 }, event('b', 'dismiss', HOUR)]);
    const repairs: string[] = [];
    const store = await IdbProfileStore.open(
      undefined,
      () => HOUR,
      (r) => repairs.push(r),
    );
    const agg = await store.load();
    expect(agg.total).toEqual({ views: 0, positives: 1, negatives: 1 });
    expect(repairs).toEqual(['1 corrupt profile event deleted', 'the stored profile was corrupt; rebuilt from the 2 events kept']);
    // Healed in storage: the next read is clean.
    repairs.length = 0;
    expect((await store.load()).total).toEqual(agg.total);
    expect(await store.events()).toHaveLength(2);
    expect(repairs).toEqual([]);
    store.close();
  });
});

describe('a profile store that keeps working when storage fails', () => {
  /** A persistent store whose writes fail while `full` is set. */
  function flaky() {
    const inner = new MemoryProfileStore(undefined, () => 0);
    const state = { full: false };
    const store = {
      kind: 'indexeddb' as const,
      load: () => inner.load(),
      append: async (e: ProfileEvent) => {
        if (state.full) throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
        return inner.append(e);
      },
      events: () => inner.events(),
      clear: () => inner.clear(),
      close: () => undefined,
    };
    return { store, state, inner };
  }

  it('keeps events in memory while writes fail, writes them in order when storage works again, and reports both', async () => {
    let now = 0;
    const { store, state, inner } = flaky();
    const changes: (string | null)[] = [];
    const resilient = new ResilientProfileStore(
      store,
      (failure) => changes.push(failure),
      () => now,
    );
    await resilient.append(event('a'));
    state.full = true;
    await resilient.append(event('b'));
    await resilient.append(event('c'));
    expect(resilient.kind).toBe('memory');
    expect((await resilient.load()).total.positives).toBe(3);
    expect((await resilient.events()).map((e) => e.activityId)).toEqual(['a', 'b', 'c']);
    expect(changes).toHaveLength(1);
    expect(changes[0]).toMatch(/QuotaExceededError/);
    state.full = false;
    await resilient.append(event('d')); // before the retry delay: kept in memory still
    expect((await inner.events()).map((e) => e.activityId)).toEqual(['a']);
    now += 5_000;
    await resilient.append(event('e'));
    expect((await inner.events()).map((e) => e.activityId)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(resilient.kind).toBe('indexeddb');
    expect(changes).toEqual([changes[0], null]);
    expect((await resilient.load()).total.positives).toBe(5);
  });

  it('concurrent appends write each event once, in order', async () => {
    const { store, inner } = flaky();
    const resilient = new ResilientProfileStore(
      store,
      () => undefined,
      () => 0,
    );
    await Promise.all(['a', 'b', 'c', 'd'].map((id) => resilient.append(event(id, 'view'))));
    expect((await inner.events()).map((e) => e.activityId)).toEqual(['a', 'b', 'c', 'd']);
    expect((await inner.load()).total.views).toBe(4);
  });

  it('after recovering, the profile is the stored one (with what other tabs wrote meanwhile)', async () => {
    let now = 0;
    const { store, state, inner } = flaky();
    const resilient = new ResilientProfileStore(
      store,
      () => undefined,
      () => now,
    );
    state.full = true;
    await resilient.append(event('mine'));
    await inner.append(event('other-tab')); // another tab wrote while this one could not
    state.full = false;
    now += 5_000;
    const agg = await resilient.append(event('mine-2'));
    expect(agg.total.positives).toBe(3);
    expect(Object.keys(agg.byActivity).sort()).toEqual(['mine', 'mine-2', 'other-tab']);
  });
});

describe('IndexedDB connection', () => {
  it('an open blocked by another connection fails after the timeout instead of hanging', async () => {
    const holder = await openDB('blocked-db', 1, { upgrade: (d) => void d.createObjectStore('s') });
    // A pending upgrade nobody lets through: every later open queues behind it.
    const upgrade = openDB('blocked-db', 2, { upgrade: (d) => void d.createObjectStore('t') });
    const connection = new IdbConnection('blocked-db', 1, () => undefined, 200);
    const started = Date.now();
    await expect(connection.connection()).rejects.toThrow(/timed out after 200 ms/);
    expect(Date.now() - started).toBeLessThan(2_000);
    holder.close();
    (await upgrade.catch(() => null))?.close();
    connection.close();
    await deleteDatabase('blocked-db');
  });

  it('reopens once when the connection was closed under it', async () => {
    const connection = new IdbConnection<{ s: { key: string; value: number } }>('reopen-db', 1, (d) => void d.createObjectStore('s'));
    const first = await connection.connection();
    first.close(); // what the browser does on "connection lost"
    await expect(connection.run(async (db) => db.objectStoreNames.length)).resolves.toBe(1);
    connection.close();
    await expect(connection.connection()).rejects.toThrow(/closed/);
    expect(isConnectionError(new DOMException('The database connection is closing.', 'InvalidStateError'))).toBe(true);
    await deleteDatabase('reopen-db');
  });
});

describe('outbox records and ledger read back from storage', () => {
  const PARAMS = parsePrivacyParameters(privacyParametersJson('m'));

  it('a corrupt ledger blocks updates for a whole window instead of giving the budget back', () => {
    const now = Date.UTC(2026, 0, 1);
    const { ledger, repaired } = parseLedger('scribbled', now);
    expect(repaired).toMatch(/ledger was corrupt/);
    let clock = now;
    const accountant = new PrivacyAccountant(PARAMS, () => clock);
    expect(accountant.refusal(ledger)).toMatch(/ledger was corrupt/);
    clock += 29 * 24 * HOUR;
    expect(accountant.refusal(ledger)).toMatch(/ledger was corrupt/);
    clock += 2 * 24 * HOUR;
    expect(accountant.refusal(ledger)).toBeNull();
    expect(parseLedger(undefined, now)).toEqual({ ledger: expect.objectContaining({ contributions: [] }) });
  });

  it('drops corrupt batches (counted in the ledger), and corrupt events of an open batch', async () => {
    const db = await openDB(SIGNALS_DB, 1, {
      upgrade(d) {
        d.createObjectStore('outbox', { keyPath: 'id' });
        d.createObjectStore('ledger');
      },
    });
    const open = {
      id: 'a'.repeat(32),
      state: 'open',
      model: 'm',
      events: [
        { key: 'd:x', activityId: 'x', slot: 0, propensity: 0.5, reward: 1, timeBucket: 6 },
        { key: 'd:y', activityId: 'y', slot: 1, propensity: 7, reward: 1, timeBucket: 6 },
      ],
      withUpdate: false,
      owner: 'o',
      touchedAt: 0,
      attempts: 0,
      nextAt: 0,
      createdAt: 0,
    };
    await db.put('outbox', open);
    await db.put('outbox', { id: 'junk' });
    await db.put('outbox', { ...open, id: 'b'.repeat(32), state: 'sealed', body: { format: 'nope' } });
    db.close();
    const repairs: string[] = [];
    const outbox = await IdbOutbox.open({ now: () => 0, onRepair: (r) => repairs.push(r) });
    const items = await outbox.list();
    expect(items.map((i) => [i.id, i.events.map((e) => e.activityId)])).toEqual([['a'.repeat(32), ['x']]]);
    expect((await outbox.ledger()).dropped.batches).toBe(2);
    expect(repairs).toHaveLength(3);
    expect(parseStoredItem({ ...open, events: 'x' }).item).toBeNull();
    outbox.close();
  });
});

describe('privacy parameters the device accepts', () => {
  const params = (change: (p: ReturnType<typeof privacyParametersJson>) => void = () => undefined) => {
    const json = privacyParametersJson('m');
    change(json);
    return parsePrivacyParameters(json);
  };

  it('accepts the defaults a server publishes at epsilon 8', () => {
    expect(privacyRefusal(params())).toBeNull();
  });

  it('refuses a budget, window, cohort or k beyond the floors, and a claimed cost below what the noise implies', () => {
    expect(privacyRefusal(params((p) => (p.budget.epsilon = 11)))).toMatch(/epsilon 11 is above this device's limit of 10/);
    expect(privacyRefusal(params((p) => (p.budget.delta = 1e-4)))).toMatch(/delta/);
    expect(privacyRefusal(params((p) => (p.budget.windowDays = 1)))).toMatch(/window/);
    expect(privacyRefusal(params((p) => (p.aggregation.minCohort = 1)))).toMatch(/rounds of 1 networks/);
    expect(privacyRefusal(params((p) => (p.aggregation.kThreshold = 1)))).toMatch(/k-threshold/);
    // "No noise" published as a tiny multiplier, with the old cheap cost: the implied rho is huge.
    expect(privacyRefusal(params((p) => (p.update.noiseMultiplierGradient = 0.01)))).toMatch(/below what its noise implies/);
    expect(privacyRefusal(params((p) => (p.update.rhoPerContribution = 5)))).toMatch(/more than the whole budget/);
    // A shop may loosen its own floors (QA loop), explicitly.
    expect(
      privacyRefusal(
        params((p) => (p.aggregation.minCohort = 1)),
        { ...DEFAULT_PRIVACY_FLOORS, minCohort: 1 },
      ),
    ).toBeNull();
  });

  it('loads a shadow model only from the endpoint origin', () => {
    const base = 'https://vitrine.shop.example/v1/';
    expect(shadowUrl('models/v2/manifest.json', base)).toEqual({ url: 'https://vitrine.shop.example/v1/models/v2/manifest.json' });
    expect(shadowUrl('/v1/models/v2/manifest.json', base)).toEqual({ url: 'https://vitrine.shop.example/v1/models/v2/manifest.json' });
    expect(shadowUrl('https://evil.example/m.json', base)).toMatchObject({ refused: expect.stringMatching(/another origin/) });
    expect(shadowUrl('//evil.example/m.json', base)).toMatchObject({ refused: expect.stringMatching(/another origin/) });
  });
});
