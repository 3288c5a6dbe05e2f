import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { readFileSync } from 'node:fs';
import { createVitrine, type Activity, type Vitrine, type VitrineOptions } from '../src/index';
import { fakeFetch } from './helpers';

const manifest = readFileSync(new URL('../../../models/coupons/manifest.json', import.meta.url), 'utf8');
const weightsPath = JSON.parse(manifest).files[0].path as string;
const weights = new Uint8Array(readFileSync(new URL(`../../../models/coupons/${weightsPath}`, import.meta.url)));
const MODEL = 'https://shop.test/models/coupons/manifest.json';

const catalog: Activity[] = ['Bar', 'Coffee House', 'Restaurant(<20)', 'Carry out & Take away'].flatMap((type) =>
  ['2h', '1d'].map((e) => ({ id: `${type.toLowerCase().replace(/[^a-z]+/g, '-')}-${e}`, type, features: { expiration: e } })),
);
/** Never seen by the model: scored from its type and features. */
const flashSale: Activity = { id: 'flash-sale-espresso', type: 'Coffee House', features: { expiration: '2h' } };
const context = { destination: 'Work', passanger: 'Alone', weather: 'Sunny', temperature: '55', time: '7AM' };
const user = { age: '26', gender: 'Female', CoffeeHouse: '4~8', Bar: 'never', has_children: '0' };

const open: Vitrine[] = [];
async function client(options: Partial<VitrineOptions> = {}): Promise<Vitrine> {
  const v = await createVitrine({ model: MODEL, backend: 'cpu', epsilon: 0, ...options });
  open.push(v);
  return v;
}
const databases = async () => (await indexedDB.databases()).map((d) => d.name);
const scoreOf = (d: Awaited<ReturnType<Vitrine['rank']>>, id: string) => d.items.find((i) => i.id === id)!.score!;

beforeEach(() => {
  // A fresh IndexedDB per test: what one test stored must not decide the next.
  vi.stubGlobal('indexedDB', new IDBFactory());
  vi.stubGlobal('fetch', fakeFetch({ [MODEL]: manifest, [new URL(weightsPath, MODEL).href]: weights }).fetch);
});
afterEach(() => {
  for (const v of open.splice(0)) v.close();
  vi.unstubAllGlobals();
});

describe('consent levels', () => {
  it("defaults to 'profile': the profile is kept in IndexedDB, nothing is sent", async () => {
    const v = await client();
    expect(v.status).toMatchObject({ consent: 'profile', profile: 'indexeddb' });
    const d = await v.rank(catalog, { context, slots: 3 });
    await v.track(d.id, d.items[0].id, 'click');
    expect((await v.exportProfile()).events).toHaveLength(1);
    expect(await databases()).toContain('vitrine');
    expect(await v.privacyReport()).toEqual({ consent: 'profile', sent: null });
  });

  it("'none' opens no database, keeps nothing and ranks from the page context only", async () => {
    const v = await client({ consent: 'none', user });
    expect(v.status).toMatchObject({ consent: 'none', profile: 'none' });
    const d = await v.rank(catalog, { context, slots: 8 });
    await v.track(d.id, d.items[0].id, 'click');
    await v.track(d.id, d.items[1].id, 'dismiss');
    const exported = await v.exportProfile();
    expect(exported).toMatchObject({ storage: 'none', events: [] });
    expect(exported.aggregates.total).toEqual({ views: 0, positives: 0, negatives: 0 });
    expect(await databases()).toEqual([]);
    // The shopper's attributes are not used either: the same scores as a client that has none.
    const anonymous = await client({ consent: 'none' });
    const plain = await anonymous.rank(catalog, { context, slots: 8 });
    for (const item of plain.items) expect(scoreOf(d, item.id)).toBeCloseTo(item.score!, 6);
    // ... while with a profile consent they do change the scores.
    const withProfile = await client({ storage: 'memory', user });
    const personal = await withProfile.rank(catalog, { context, slots: 8 });
    expect(personal.items.some((i) => Math.abs(i.score! - scoreOf(plain, i.id)) > 1e-4)).toBe(true);
  });

  it("switching to 'none' erases the stored profile at once; 'profile' stores again", async () => {
    const v = await client({ user });
    const d = await v.rank(catalog, { context, slots: 3 });
    await v.track(d.id, d.items[0].id, 'click');
    expect(await databases()).toContain('vitrine');
    const before = scoreOf(await v.rank(catalog, { context, slots: 8 }), d.items[0].id);

    const change = v.setConsent('none');
    expect(v.status.consent).toBe('none'); // in effect before the erase finishes
    await change;
    expect(v.status).toMatchObject({ consent: 'none', profile: 'none' });
    expect(await databases()).toEqual([]);
    expect((await v.exportProfile()).events).toEqual([]);
    // Ranking no longer sees the click or the attributes.
    const anonymous = await client({ consent: 'none' });
    const after = await v.rank(catalog, { context, slots: 8 });
    expect(scoreOf(after, d.items[0].id)).toBeCloseTo(scoreOf(await anonymous.rank(catalog, { context, slots: 8 }), d.items[0].id), 6);
    expect(scoreOf(after, d.items[0].id)).not.toBeCloseTo(before, 4);

    await v.setConsent('profile');
    expect(v.status).toMatchObject({ consent: 'profile', profile: 'indexeddb' });
    const again = await v.rank(catalog, { context, slots: 3 });
    await v.track(again.id, again.items[1].id, 'dismiss');
    expect((await v.exportProfile()).events.map((e) => e.outcome)).toEqual(['dismiss']);
    expect(await databases()).toContain('vitrine');
  });

  it('applies quick changes in order and rejects a bad value with a VitrineError', async () => {
    const v = await client({ storage: 'memory' });
    await expect(v.setConsent('all' as never)).rejects.toMatchObject({ name: 'VitrineError', code: 'invalid_input', field: 'consent' });
    const changes = [v.setConsent('none'), v.setConsent('profile'), v.setConsent('none'), v.setConsent('profile')];
    await Promise.all(changes);
    expect(v.status).toMatchObject({ consent: 'profile', profile: 'memory' });
    const d = await v.rank(catalog, { context, slots: 2 });
    await v.track(d.id, d.items[0].id, 'click');
    expect((await v.exportProfile()).events).toHaveLength(1);
  });
});

describe('explain (why this offer)', () => {
  /** A shopper who took Coffee House offers twice and passed on a bar offer. */
  async function withHistory(options: Partial<VitrineOptions> = {}) {
    const v = await client({ storage: 'memory', user, ...options });
    const d = await v.rank(catalog, { context, slots: 8 });
    for (const [id, outcome] of [
      ['coffee-house-2h', 'click'],
      ['coffee-house-1d', 'purchase'],
      ['bar-1d', 'dismiss'],
    ] as const) {
      await v.track(d.id, id, outcome);
    }
    return v;
  }

  it("each reason is the score lost without its group's inputs; removing the top reason's inputs lowers the score", async () => {
    const v = await withHistory();
    const d = await v.rank(catalog, { context, slots: 8 });
    for (const item of d.items) {
      const why = await v.explain(d.id, item.id);
      expect(why.score).toBeCloseTo(item.score!, 5);
      expect(why.reasons.length).toBeGreaterThan(0);
      const top = why.reasons[0];
      if (top.contribution <= 0) continue; // nothing raised this card: no top reason to remove
      expect(why.summary).toBe(top.text);
      // Remove the top group's inputs through the public API and rank again: independent of explain's own code.
      const without = await rankWithout(top.group, item.id);
      expect(without).toBeLessThan(item.score!);
      expect(item.score! - without).toBeCloseTo(top.contribution, 4);
    }

    async function rankWithout(group: string, id: string): Promise<number> {
      const activity = catalog.find((a) => a.id === id)!;
      if (group === 'context') return scoreOf(await v.rank([activity], { context: {} }), id);
      if (group === 'shopper') {
        await v.setUser({});
        const s = scoreOf(await v.rank([activity], { context }), id);
        await v.setUser(user);
        return s;
      }
      if (group === 'history') return scoreOf(await (await client({ storage: 'memory', user })).rank([activity], { context }), id);
      // 'offer': an activity with no id, type or features the model knows.
      const blank = await v.rank([{ id: 'unknown-offer', type: 'Unknown' }], { context });
      return blank.items[0].score!;
    }
  });

  it('speaks of the history in plain words', async () => {
    const v = await withHistory();
    const d = await v.rank(catalog, { context, slots: 8 });
    const why = await v.explain(d.id, 'coffee-house-2h');
    const history = why.reasons.find((r) => r.group === 'history');
    expect(history?.text).toBe('You often take Coffee House offers');
  });

  it('marks never-seen activities as cold start, and exploration leads when it placed the card', async () => {
    // random() = 0: every rank explores, and the shuffle keeps the shop's order (the new offer first).
    const v = await client({ storage: 'memory', epsilon: 0.5, random: () => 0 });
    const d = await v.rank([flashSale, ...catalog], { context, slots: 3 });
    expect(d.policy.explored).toBe(true);
    expect(d.items.find((i) => i.id === flashSale.id)?.coldStart).toBe(true);
    expect(d.items.filter((i) => i.id !== flashSale.id).every((i) => !i.coldStart)).toBe(true);
    const why = await v.explain(d.id, flashSale.id);
    expect(why).toMatchObject({ coldStart: true, explored: true, summary: 'Shown to learn about a new offer' });
    expect(why.reasons[0].group).toBe('exploration');
    expect(why.reasons.find((r) => r.group === 'offer')?.text).toMatch(
      /^A new offer, judged from what it is \(Coffee House, expiration 2h\)/,
    );
  });

  it('rejects unknown decisions and activities with a VitrineError; shop-order decisions explain themselves', async () => {
    const v = await client({ storage: 'memory' });
    const d = await v.rank(catalog, { context, slots: 2 });
    await expect(v.explain('nope', d.items[0].id)).rejects.toMatchObject({ code: 'unknown_decision' });
    await expect(v.explain(d.id, 'bar-2h-not-placed')).rejects.toMatchObject({ code: 'invalid_input', field: 'activityId' });
    await expect(v.explain(d.id, 42 as never)).rejects.toMatchObject({ name: 'VitrineError', code: 'invalid_input' });

    vi.stubGlobal('fetch', fakeFetch({}).fetch);
    const broken = await client({ storage: 'memory' });
    const fallback = await broken.rank(catalog, { slots: 2 });
    expect(await broken.explain(fallback.id, fallback.items[0].id)).toMatchObject({ score: null, reasons: [] });
  });

  it("after consent 'none' an earlier decision's explanation no longer uses the profile", async () => {
    const v = await withHistory();
    const d = await v.rank(catalog, { context, slots: 8 });
    expect((await v.explain(d.id, 'coffee-house-2h')).reasons.some((r) => r.group === 'history')).toBe(true);
    await v.setConsent('none');
    const why = await v.explain(d.id, 'coffee-house-2h');
    expect(why.reasons.map((r) => r.group)).not.toContain('history');
    expect(why.reasons.map((r) => r.group)).not.toContain('shopper');
  });
});
