import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Vitrine } from '@vitrine/sdk';
import { createSlotRanking, defaultSlot, slotKey, DEFAULT_BUDGET_MS, type SlotSnapshot } from '../src';
import { ACTIVITIES, FakeClient } from './fakes';

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

const now = () => Date.now();
const ids = (s: SlotSnapshot) => s.items.map((a) => a.id);

/** A client source that hands over `client` after `delayMs`. */
function source(client: FakeClient | null, delayMs = 0) {
  return { ready: new Promise<Vitrine | null>((resolve) => setTimeout(() => resolve(client?.asVitrine() ?? null), delayMs)) };
}

/** Every snapshot the slot published, starting with its first. */
function record(slot: { snapshot(): SlotSnapshot; subscribe(fn: () => void): () => void }) {
  const seen = [slot.snapshot()];
  slot.subscribe(() => seen.push(slot.snapshot()));
  return seen;
}

describe('defaultSlot', () => {
  it("is the shop's order, cut to the slot count", () => {
    expect(ids(defaultSlot(ACTIVITIES))).toEqual(['a', 'b', 'c', 'd']);
    expect(defaultSlot(ACTIVITIES, 2)).toEqual({ items: ACTIVITIES.slice(0, 2), decision: null, personalized: false, phase: 'default' });
  });
});

describe('createSlotRanking', () => {
  it('shows the default order at once and the ranked order once, when it arrives within the budget', async () => {
    const client = new FakeClient();
    client.rankDelayMs = 40;
    const slot = createSlotRanking(source(client, 20), ACTIVITIES, { context: { page: 'home' }, slots: 3 }, now);
    const seen = record(slot);
    expect(ids(slot.snapshot())).toEqual(['a', 'b', 'c']);
    slot.start();
    await vi.advanceTimersByTimeAsync(DEFAULT_BUDGET_MS);
    await vi.runAllTimersAsync();
    expect(seen.map(ids)).toEqual([
      ['a', 'b', 'c'],
      ['c', 'a', 'b'],
    ]);
    const ranked = slot.snapshot();
    expect(ranked).toMatchObject({ phase: 'ranked', personalized: true, rankedAfterMs: 60 });
    expect(ranked.decision?.id).toBe('d1');
    expect(ranked.items[0]).toBe(ACTIVITIES[2]); // the shop's own objects come back
    expect(client.rankCalls).toEqual([{ ids: ['a', 'b', 'c', 'd'], options: { context: { page: 'home' }, slots: 3 } }]);
  });

  it('keeps the default order for good when the rank arrives after the budget', async () => {
    const client = new FakeClient();
    client.rankDelayMs = 200;
    const slot = createSlotRanking(source(client), ACTIVITIES, {}, now);
    const seen = record(slot);
    slot.start();
    await vi.advanceTimersByTimeAsync(DEFAULT_BUDGET_MS);
    expect(slot.snapshot()).toMatchObject({ phase: 'missed', decision: null, personalized: false });
    await vi.runAllTimersAsync();
    expect(client.rankCalls).toHaveLength(1);
    expect(seen.map((s) => [s.phase, ids(s).join('')])).toEqual([
      ['default', 'abcd'],
      ['missed', 'abcd'],
    ]);
    slot.start();
    await vi.runAllTimersAsync();
    expect(seen).toHaveLength(2);
  });

  it('does not rank when the client only arrives after the budget', async () => {
    const client = new FakeClient();
    const slot = createSlotRanking(source(client, 500), ACTIVITIES, { budgetMs: 100 }, now);
    slot.start();
    await vi.runAllTimersAsync();
    expect(slot.snapshot().phase).toBe('missed');
    expect(slot.snapshot().reason).toMatch(/100 ms/);
    expect(client.rankCalls).toHaveLength(0);
  });

  it('counts a late answer as missed even when the budget timer has not fired yet', async () => {
    const client = new FakeClient();
    client.rankDelayMs = 10;
    let t = 0;
    const slot = createSlotRanking(source(client), ACTIVITIES, {}, () => t);
    slot.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(client.rankCalls).toHaveLength(1);
    t = DEFAULT_BUDGET_MS + 1; // the main thread was blocked while ranking: the clock moved, the budget timer did not run
    await vi.advanceTimersByTimeAsync(10);
    expect(slot.snapshot().phase).toBe('missed');
  });

  it('ranks once for repeated start() and for dispose() followed by start() in the same tick', async () => {
    const client = new FakeClient();
    const slot = createSlotRanking(source(client), ACTIVITIES, {}, now);
    slot.start();
    slot.start();
    slot.dispose();
    slot.start();
    await vi.runAllTimersAsync();
    expect(client.rankCalls).toHaveLength(1);
    expect(slot.snapshot().phase).toBe('ranked');
  });

  it('ignores the answer after dispose()', async () => {
    const client = new FakeClient();
    client.rankDelayMs = 50;
    const slot = createSlotRanking(source(client), ACTIVITIES, {}, now);
    const seen = record(slot);
    slot.start();
    slot.dispose();
    await vi.runAllTimersAsync();
    expect(seen).toHaveLength(1);
    expect(slot.snapshot().phase).toBe('default');
  });

  it('is not personalized when the rank degraded to rules (the shop order stays)', async () => {
    const client = new FakeClient();
    client.backend = 'rules';
    client.order = ['a', 'b', 'c', 'd'];
    const slot = createSlotRanking(source(client), ACTIVITIES, {}, now);
    slot.start();
    await vi.runAllTimersAsync();
    expect(slot.snapshot()).toMatchObject({ phase: 'ranked', personalized: false });
    expect(ids(slot.snapshot())).toEqual(['a', 'b', 'c', 'd']);
  });

  it('keeps the shop order when rank rejects', async () => {
    const client = new FakeClient();
    client.failRank = true;
    const slot = createSlotRanking(source(client), ACTIVITIES, {}, now);
    slot.start();
    await vi.runAllTimersAsync();
    expect(slot.snapshot()).toMatchObject({ phase: 'failed', reason: 'rank failed', items: ACTIVITIES, decision: null });
  });

  it('has no side effects before start()', async () => {
    const client = new FakeClient();
    createSlotRanking(source(client), ACTIVITIES, {}, now);
    await vi.runAllTimersAsync();
    expect(client.rankCalls).toHaveLength(0);
  });
});

describe('slotKey', () => {
  it('depends on ids, context and slots, not on array identity', () => {
    const key = slotKey(ACTIVITIES, { context: { page: 'home' }, slots: 2 });
    expect(slotKey([...ACTIVITIES.map((a) => ({ ...a }))], { context: { page: 'home' }, slots: 2 })).toBe(key);
    expect(slotKey(ACTIVITIES, { context: { page: 'cart' }, slots: 2 })).not.toBe(key);
    expect(slotKey(ACTIVITIES, { context: { page: 'home' }, slots: 3 })).not.toBe(key);
    expect(slotKey(ACTIVITIES.slice(1), { context: { page: 'home' }, slots: 2 })).not.toBe(key);
  });
});
