/**
 * Per-segment × activity rows from randomized segment reports (report/segments.ts): the debiased
 * CTR recovers the truth in a seeded simulation, and no segment or count below k leaves the
 * server, whatever small or hostile input it is given.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { randomizeCategory } from '@vitrine/core/policy';
import type { SignalEvent } from '@vitrine/core/protocol';
import { seededRandom } from '@vitrine/core/random';
import { segmentReport, type ReportedBatch } from '../src/report/segments';
import { COFFEE_LOVERS, NEWCOMERS } from './policy-fixtures';

const SEGMENTS = [COFFEE_LOVERS, NEWCOMERS];
const event = (activityId: string, reward: number): SignalEvent => ({ activityId, slot: 0, propensity: 0.5, reward, timeBucket: 0 });

describe('segment × activity rows', () => {
  it('recover each segment’s CTR from randomized reports (ε = 1, 3 categories), inside their 95% intervals', () => {
    const random = seededRandom(4242);
    // True segment shares and CTRs per segment (coffee lovers, newcomers, none) for activity "coffee".
    const share = [0.3, 0.2, 0.5];
    const ctr = [0.2, 0.05, 0.1];
    const batches: ReportedBatch[] = [];
    const truth = [
      { impressions: 0, clicks: 0, batches: 0 },
      { impressions: 0, clicks: 0, batches: 0 },
      { impressions: 0, clicks: 0, batches: 0 },
    ];
    for (let b = 0; b < 30_000; b++) {
      const u = random();
      const segment = u < share[0] ? 0 : u < share[0] + share[1] ? 1 : 2;
      const events = Array.from({ length: 1 + Math.floor(random() * 4) }, () => event('coffee', random() < ctr[segment] ? 1 : 0));
      truth[segment].batches += 1;
      truth[segment].impressions += events.length;
      truth[segment].clicks += events.filter((e) => e.reward > 0).length;
      batches.push({ index: randomizeCategory(segment, 3, 1, random), events });
    }
    const { rows, suppressed } = segmentReport(batches, SEGMENTS, 1, 20);
    expect(suppressed).toBe(0);
    expect(rows.map((r) => [r.segment, r.name, r.activity])).toEqual([
      ['coffee-lovers', 'Coffee lovers', 'coffee'],
      ['new', 'New shoppers', 'coffee'],
    ]);
    rows.forEach((row, j) => {
      const trueCtr = truth[j].clicks / truth[j].impressions;
      expect(row.low).toBeLessThanOrEqual(trueCtr);
      expect(row.high).toBeGreaterThanOrEqual(trueCtr);
      expect(Math.abs(row.ctr - ctr[j])).toBeLessThan(0.03);
      expect(Math.abs(row.batches - truth[j].batches) / truth[j].batches).toBeLessThan(0.1);
      expect(Math.abs(row.impressions - truth[j].impressions) / truth[j].impressions).toBeLessThan(0.1);
    });
  });

  it('release nothing for a segment reported by fewer than k batches', () => {
    const k = 10;
    const batches: ReportedBatch[] = [
      ...Array.from({ length: k - 1 }, () => ({ index: 0, events: [event('coffee', 1)] })),
      ...Array.from({ length: 200 }, (_, i) => ({ index: 1 + (i % 2), events: [event('coffee', 0)] })),
    ];
    const { rows, suppressed } = segmentReport(batches, SEGMENTS, 4, k);
    expect(rows.find((r) => r.segment === 'coffee-lovers')).toBeUndefined();
    expect(suppressed).toBeGreaterThanOrEqual(1);
  });

  it('release nothing when k batches reported a segment but the debiased estimate is below k (they are likely noise)', () => {
    // ε = 0.5, 3 categories: q·N of any category's reports is noise. 30 reports of "coffee lovers"
    // among 100 is what noise alone gives (q = 0.274): the estimate is near 0.
    const k = 20;
    const batches: ReportedBatch[] = Array.from({ length: 100 }, (_, i) => ({
      index: i < 30 ? 0 : i < 55 ? 1 : 2,
      events: [event('x', 1)],
    }));
    const { rows } = segmentReport(batches, SEGMENTS, 0.5, k);
    expect(rows).toEqual([]);
  });

  it('never name a segment × activity with fewer than k reporting batches or a debiased estimate below k (hostile inputs)', () => {
    const activity = fc.constantFrom('a', 'b', 'c');
    const batch = fc.record({
      index: fc.oneof(fc.integer({ min: 0, max: 2 }), fc.constantFrom(-1, 3, 64, 1.5, Number.NaN)),
      events: fc.array(fc.tuple(activity, fc.constantFrom(0, 1)), { minLength: 1, maxLength: 5 }),
    });
    fc.assert(
      fc.property(fc.array(batch, { maxLength: 120 }), fc.integer({ min: 1, max: 25 }), fc.constantFrom(0.1, 1, 3, 8), (raw, k, eps) => {
        const batches: ReportedBatch[] = raw.map((b) => ({ index: b.index, events: b.events.map(([a, r]) => event(a, r)) }));
        const { rows } = segmentReport(batches, SEGMENTS, eps, k);
        for (const row of rows) {
          const j = SEGMENTS.findIndex((s) => s.id === row.segment);
          const reporting = batches.filter((b) => b.index === j && b.events.some((e) => e.activityId === row.activity)).length;
          expect(reporting).toBeGreaterThanOrEqual(k);
          expect(row.batches).toBeGreaterThanOrEqual(k);
          expect(row.impressions).toBeGreaterThanOrEqual(k);
          expect(row.ctr).toBeGreaterThanOrEqual(0);
          expect(row.ctr).toBeLessThanOrEqual(1);
          expect(row.low).toBeLessThanOrEqual(row.high);
        }
      }),
      { numRuns: 400, seed: 7 },
    );
  });
});
