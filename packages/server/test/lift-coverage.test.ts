/**
 * The holdout's lift interval in a simulation with a known true lift: control CTR 5%, Vitrine 6%
 * (lift +20%), 10% of page views in the control arm, shoppers who differ in how much they click
 * (so the events of one batch are correlated), 12,000 page views per replication in batches of
 * 1–6 page views of 1–3 events. Over 400 seeded replications (arm drawn per page view, and sticky
 * per device) the 95% interval must cover the true lift in 93–97% of them: with 400 runs the
 * measured coverage's standard error is 1.1 points, so an interval whose true coverage is 90% (or
 * 99%) passes with probability < 1%. The same runs show
 * that an interval treating events as independent covers clearly less: the check can fail.
 */
import { describe, expect, it } from 'vitest';
import type { SignalEvent } from '@vitrine/core/protocol';
import { seededRandom } from '@vitrine/core/random';
import { relativeLift, ratioOfSums, wilson, Z95 } from '../src/report/intervals';
import { liftReport } from '../src/report/lift';

const CONTROL_CTR = 0.05;
const VITRINE_CTR = 0.06;
const TRUE_LIFT = VITRINE_CTR / CONTROL_CTR - 1;
const HOLDOUT = 0.1;
const PAGE_VIEWS = 12_000;
const REPLICATIONS = 400;

/**
 * One replication's batches. A shopper's click propensity is base × m with m = 8·U⁷ (U uniform;
 * mean 1, so each arm's true CTR is its base rate exactly: m does not depend on the arm). The arm
 * is drawn per page view (the SDK's default) or once per batch (`sticky`, the SDK's option).
 */
function simulate(random: () => number, sticky: boolean): SignalEvent[][] {
  const batches: SignalEvent[][] = [];
  let views = 0;
  while (views < PAGE_VIEWS) {
    const m = 8 * random() ** 7;
    const events: SignalEvent[] = [];
    const pageViews = 1 + Math.floor(random() * 6);
    const deviceArm = random() < HOLDOUT;
    for (let v = 0; v < pageViews; v++, views++) {
      const control = sticky ? deviceArm : random() < HOLDOUT;
      const ctr = (control ? CONTROL_CTR : VITRINE_CTR) * m;
      const n = 1 + Math.floor(random() * 3);
      for (let i = 0; i < n; i++) {
        const e: SignalEvent = { activityId: `a${i}`, slot: i, propensity: 0.5, reward: random() < ctr ? 1 : 0, timeBucket: 480_000 };
        if (control) e.control = true;
        events.push(e);
      }
    }
    batches.push(events);
  }
  return batches;
}

/** The interval a naive analysis would give: every event its own cluster. */
function eventLevelLift(batches: SignalEvent[][]) {
  const events = batches.flat();
  const arm = (control: boolean) => ({
    y: events.map((e) => (Boolean(e.control) === control && e.reward > 0 ? 1 : 0)),
    x: events.map((e) => (Boolean(e.control) === control ? 1 : 0)),
  });
  return relativeLift(arm(false), arm(true));
}

describe('lift interval coverage (simulation, known true lift)', () => {
  it.each([
    { arm: 'per page view', sticky: false },
    { arm: 'sticky per device', sticky: true },
  ])(`covers the true lift (+20%) in 93–97% of ${REPLICATIONS} replications, arm drawn $arm`, ({ arm, sticky }) => {
    const random = seededRandom(sticky ? 20_260_513 : 20_260_512);
    let covered = 0;
    let naiveCovered = 0;
    let estimates = 0;
    const widths: number[] = [];
    for (let r = 0; r < REPLICATIONS; r++) {
      const batches = simulate(random, sticky);
      const report = liftReport(batches, 20);
      const lift = report.ctrLift;
      expect(lift, `replication ${r}`).not.toBeNull();
      if (lift!.low <= TRUE_LIFT && TRUE_LIFT <= lift!.high) covered += 1;
      estimates += lift!.estimate;
      widths.push(lift!.high - lift!.low);
      const naive = eventLevelLift(batches)!;
      if (naive.low <= TRUE_LIFT && TRUE_LIFT <= naive.high) naiveCovered += 1;
    }
    const coverage = covered / REPLICATIONS;
    const naiveCoverage = naiveCovered / REPLICATIONS;
    const meanWidth = widths.reduce((a, b) => a + b, 0) / widths.length;
    console.log(
      `lift CI coverage, arm drawn ${arm}: ${(coverage * 100).toFixed(1)}% of ${REPLICATIONS} replications (true lift +20%, ` +
        `mean estimate ${((estimates / REPLICATIONS) * 100).toFixed(1)}%, mean width ${(meanWidth * 100).toFixed(1)} points); ` +
        `events treated as independent: ${(naiveCoverage * 100).toFixed(1)}%`,
    );
    expect(coverage).toBeGreaterThanOrEqual(0.93);
    expect(coverage).toBeLessThanOrEqual(0.97);
    // The correlation inside batches is real here: ignoring it under-covers (most where whole batches
    // share an arm), so the check above can fail.
    if (sticky) expect(naiveCoverage).toBeLessThan(0.9);
    // Not trivially wide: a ±100% interval would also "cover".
    expect(meanWidth).toBeLessThan(0.8);
  });
});

describe('interval building blocks', () => {
  it('Wilson: the textbook values, bounded to [0, 1], null without trials', () => {
    const w = wilson(5, 100)!;
    expect(w.estimate).toBe(0.05);
    expect(w.low).toBeCloseTo(0.02154, 4);
    expect(w.high).toBeCloseTo(0.11175, 4);
    expect(wilson(0, 10)!.low).toBe(0);
    expect(wilson(10, 10)!.high).toBeCloseTo(1, 12);
    expect(wilson(0, 0)).toBeNull();
  });

  it('ratio of sums: the cluster variance equals the binomial one when each cluster is one trial', () => {
    const y = [...Array(30).fill(1), ...Array(70).fill(0)];
    const x = Array(100).fill(1);
    const r = ratioOfSums(y, x)!;
    const se = Math.sqrt((100 / 99) * ((0.3 * 0.7) / 100));
    expect(r.estimate).toBeCloseTo(0.3, 12);
    expect(r.high - r.estimate).toBeCloseTo(Z95 * se, 10);
    expect(ratioOfSums([1], [2])).toBeNull();
    expect(ratioOfSums([0, 0], [0, 0])).toBeNull();
  });

  it('relative lift: the ratio minus one; no interval when an arm has no success', () => {
    const a = { y: [3, 3, 0, 0], x: [10, 10, 10, 10] };
    const b = { y: [2, 0, 0, 0], x: [10, 10, 10, 10] };
    const lift = relativeLift(a, b)!;
    expect(lift.estimate).toBeCloseTo(2, 12);
    expect(lift.low).toBeLessThan(2);
    expect(lift.high).toBeGreaterThan(2);
    expect(lift.low).toBeGreaterThan(-1);
    expect(relativeLift(a, { y: [0, 0, 0, 0], x: b.x })).toBeNull();
  });

  it('suppresses an arm seen in fewer than k batches, and the lift with it', () => {
    const e = (control: boolean, reward: number, day = 0): SignalEvent => ({
      activityId: 'x',
      slot: 0,
      propensity: 0.5,
      reward,
      timeBucket: 480_000 + day * 24,
      ...(control ? { control: true as const } : {}),
    });
    const batches = [
      ...Array.from({ length: 30 }, (_, i) => [e(false, i % 3 === 0 ? 1 : 0), e(false, 0)]),
      ...Array.from({ length: 4 }, (_, i) => [e(true, i % 2), e(false, 1, 1)]),
    ];
    const report = liftReport(batches, 5);
    expect(report.vitrine.suppressed).toBe(false);
    expect(report.vitrine.batches).toBe(34);
    expect(report.control).toMatchObject({ suppressed: true, batches: null, impressions: null, clicks: null, ctr: null });
    expect(report.ctrLift).toBeNull();
    expect(report.rewardLift).toBeNull();
    expect(report.overTime.map((p) => p.day)).toEqual([480_000 * 3_600_000, (480_000 + 24) * 3_600_000]);
    // Day 2 has 4 Vitrine batches: below k, suppressed too.
    expect(report.overTime[1].vitrine.suppressed).toBe(true);
  });
});
