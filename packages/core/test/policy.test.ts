import { describe, expect, it } from 'vitest';
import * as v from 'valibot';
import fc from 'fast-check';
import { applyEvent, emptyAggregates, type ProfileEvent } from '../src/features';
import {
  PolicyDocumentSchema,
  RulesSchema,
  SegmentsSchema,
  debiasCounts,
  lastEventHour,
  primarySegmentIndex,
  randomizeCategory,
  responseProbabilities,
  segmentMemberships,
  type Segment,
} from '../src/policy';
import { seededRandom } from '../src/random';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const NOW = 1_000 * DAY;

const segments: Segment[] = [
  { id: 'new', name: 'New', when: { history: { maxAnswers: 0 } } },
  { id: 'coffee-lovers', name: 'Coffee lovers', when: { history: { type: 'Coffee House', minAnswers: 3, minAcceptance: 0.5 } } },
  { id: 'lapsed', name: 'Lapsed', when: { inactiveDays: 30 } },
  { id: 'short-deals', name: 'Short deals', when: { history: { attribute: 'expiration=2h', minAnswers: 2, minAcceptance: 0.5 } } },
  {
    id: 'adult-not-new',
    name: 'Adult, not new',
    when: { all: [{ attribute: { key: 'age', min: 18 } }, { not: { history: { maxAnswers: 0 } } }] },
  },
  { id: 'either', name: 'Either', when: { any: [{ attribute: { key: 'city', in: ['Lyon', 'Paris'] } }, { inactiveDays: 60 }] } },
];

function shopper(events: Omit<ProfileEvent, 'activityType'>[], types: Record<string, string>) {
  const full = events.map((e) => ({ ...e, activityType: types[e.activityId] }));
  return { profile: full.reduce(applyEvent, emptyAggregates()), lastEventHour: lastEventHour(full) };
}
const TYPES = { c1: 'Coffee House', c2: 'Coffee House', b1: 'Bar' };

describe('segment membership', () => {
  it('new, coffee lovers, lapsed, attribute and combined rules', () => {
    const none = shopper([], TYPES);
    expect(segmentMemberships(segments, { ...none, user: {}, now: NOW })).toEqual(['new']);
    expect(segmentMemberships(segments, { ...none, user: { city: 'Lyon', age: 40 }, now: NOW })).toEqual(['new', 'either']);
    // 2 of 3 coffee answers accepted, recently: a coffee lover, not lapsed.
    const coffee = shopper(
      [
        { activityId: 'c1', outcome: 'click', hour: NOW - 2 * DAY, attributes: { expiration: '2h' } },
        { activityId: 'c2', outcome: 'dismiss', hour: NOW - 2 * DAY },
        { activityId: 'c1', outcome: 'purchase', hour: NOW - DAY, attributes: { expiration: '2h' } },
        { activityId: 'b1', outcome: 'view', hour: NOW - HOUR },
      ],
      TYPES,
    );
    expect(segmentMemberships(segments, { ...coffee, user: { age: 30 }, now: NOW })).toEqual([
      'coffee-lovers',
      'short-deals',
      'adult-not-new',
    ]);
    // The same history 45 days later: lapsed, still a coffee lover; 61 days: 'either' by inactivity.
    expect(segmentMemberships(segments, { ...coffee, user: {}, now: NOW + 45 * DAY })).toEqual(['coffee-lovers', 'lapsed', 'short-deals']);
    expect(segmentMemberships(segments, { ...coffee, user: {}, now: NOW + 61 * DAY })).toContain('either');
    // 1 of 3 accepted: not a coffee lover; an age that is not a number is not >= 18.
    const lukewarm = shopper(
      [
        { activityId: 'c1', outcome: 'click', hour: NOW - DAY },
        { activityId: 'c2', outcome: 'dismiss', hour: NOW - DAY },
        { activityId: 'c2', outcome: 'dismiss', hour: NOW - DAY },
      ],
      TYPES,
    );
    expect(segmentMemberships(segments, { ...lukewarm, user: { age: '30' }, now: NOW })).toEqual([]);
  });

  it('the reported segment is the first in the merchant order, or the count for none', () => {
    const none = shopper([], TYPES);
    expect(primarySegmentIndex(segments, { ...none, user: {}, now: NOW })).toBe(0);
    expect(primarySegmentIndex(segments.slice(1, 3), { ...none, user: {}, now: NOW })).toBe(2);
  });

  it('refuses hostile definitions: deep nesting, unknown keys, duplicate ids, huge lists', () => {
    let deep: unknown = { history: {} };
    for (let i = 0; i < 8; i++) deep = { not: deep };
    for (const bad of [
      [{ id: 'x', name: 'X', when: deep }],
      [{ id: 'x', name: 'X', when: { history: {} }, extra: 1 }],
      [
        { id: 'x', name: 'X', when: { history: {} } },
        { id: 'x', name: 'Y', when: { history: {} } },
      ],
      [{ id: '../etc', name: 'X', when: { history: {} } }],
      [{ id: 'x', name: 'X', when: { history: { minAcceptance: 2 } } }],
      [{ id: 'x', name: 'X', when: { attribute: { key: '__proto__', in: [{}] } } }],
      Array.from({ length: 33 }, (_, i) => ({ id: `s${i}`, name: 'S', when: { history: {} } })),
    ]) {
      expect(v.safeParse(SegmentsSchema, bad).success, JSON.stringify(bad).slice(0, 80)).toBe(false);
    }
    expect(v.safeParse(SegmentsSchema, segments).success).toBe(true);
  });

  it('rules and documents: any JSON value either parses or is refused, never throws', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (x) => {
        expect(typeof v.safeParse(RulesSchema, x).success).toBe('boolean');
        expect(typeof v.safeParse(PolicyDocumentSchema, x).success).toBe('boolean');
      }),
      { numRuns: 500 },
    );
    expect(v.safeParse(RulesSchema, { pin: [{ activity: 'a', position: 1.5 }] }).success).toBe(false);
    expect(v.safeParse(RulesSchema, { boost: [{ match: {}, multiply: Infinity }] }).success).toBe(false);
    expect(v.safeParse(RulesSchema, { diversity: { lambda: 1.1 } }).success).toBe(false);
    expect(v.safeParse(RulesSchema, { exclude: [{ activity: 'a' }], unknown: true }).success).toBe(false);
  });
});

describe('randomized response', () => {
  it('reports each category with the stated probabilities (Monte Carlo)', () => {
    const random = seededRandom(9);
    const m = 4;
    const eps = 1;
    const { truth, other } = responseProbabilities(m, eps);
    const runs = 40_000;
    const counts = new Array<number>(m).fill(0);
    for (let r = 0; r < runs; r++) counts[randomizeCategory(2, m, eps, random)]++;
    counts.forEach((c, j) => {
      const p = j === 2 ? truth : other;
      expect(Math.abs(c / runs - p)).toBeLessThan(4.5 * Math.sqrt((p * (1 - p)) / runs));
    });
  });

  it('debiased counts are unbiased and their variance is right', () => {
    const random = seededRandom(21);
    const trueCounts = [600, 300, 100, 0];
    const eps = 1.5;
    const reps = 300;
    const estimates: number[][] = [];
    let variance: number[] = [];
    for (let r = 0; r < reps; r++) {
      const reported = [0, 0, 0, 0];
      trueCounts.forEach((n, j) => {
        for (let i = 0; i < n; i++) reported[randomizeCategory(j, 4, eps, random)]++;
      });
      const d = debiasCounts(reported, eps);
      estimates.push(d.estimates);
      variance = d.variance;
    }
    trueCounts.forEach((t, j) => {
      const mean = estimates.reduce((s, e) => s + e[j], 0) / reps;
      const sd = Math.sqrt(estimates.reduce((s, e) => s + (e[j] - mean) ** 2, 0) / (reps - 1));
      // The mean of 300 unbiased estimates is within 4.5 standard errors of the truth...
      expect(Math.abs(mean - t)).toBeLessThan((4.5 * sd) / Math.sqrt(reps));
      // ...and the stated variance matches the spread (within 25%).
      expect(Math.sqrt(variance[j]) / sd).toBeGreaterThan(0.75);
      expect(Math.sqrt(variance[j]) / sd).toBeLessThan(1.25);
    });
  });

  it('refuses fewer than 2 categories and a non-positive epsilon', () => {
    expect(() => responseProbabilities(1, 1)).toThrow(RangeError);
    expect(() => responseProbabilities(3, 0)).toThrow(RangeError);
    expect(() => responseProbabilities(3, Number.NaN)).toThrow(RangeError);
  });
});
