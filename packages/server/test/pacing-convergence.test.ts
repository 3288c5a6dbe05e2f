/**
 * The pacing controller in a seeded simulation of a shop's days: a known demand curve (Poisson
 * page views that would show the activity, peaking at 16:00 UTC), devices that apply a
 * multiplier fetched up to 5 minutes earlier, signals that reach the server up to 15 minutes
 * after the event, and the controller stepping every 5 minutes on what the server has received
 * today (as the server counts it). Delivered counts must meet the budget within 5% (never more
 * than 5% over), on a plain day, a day with a one-hour demand spike of ×6, and for a budget of
 * redemptions; on a day whose demand is below the budget nothing is held back.
 */
import { describe, expect, it } from 'vitest';
import { seededRandom } from '@vitrine/core/random';
import { DAY_MS, pacingStep, type PacingState } from '../src/pacing/controller';

const MINUTE = 60_000;
const STEP = 5 * MINUTE;
const DAY0 = Date.UTC(2026, 4, 11);
const K = 20;

interface Day {
  /** Expected page views a day that would show the activity at multiplier 1. */
  demand: number;
  /** [start hour, end hour, factor]: demand multiplied by factor in that window. */
  spike?: [number, number, number];
}

function poisson(random: () => number, lambda: number): number {
  // Knuth's method: fine for the per-minute means here (< 200).
  const limit = Math.exp(-lambda);
  let k = 0;
  let p = random();
  while (p > limit) {
    k += 1;
    p *= random();
  }
  return k;
}

/**
 * Runs the days; returns what the server received per UTC day (the count the budget is about) and
 * the multipliers published. `success` is the chance a shown activity is redeemed (1 for impressions).
 */
function simulate(days: Day[], perDay: number, success: number, seed: number) {
  const random = seededRandom(seed);
  /** Published multipliers, one per step, oldest first: [time, multiplier]. */
  const published: [number, number][] = [[DAY0, 1]];
  const multiplierAt = (t: number) => {
    let m = 1;
    for (let i = published.length - 1; i >= 0; i--)
      if (published[i][0] <= t) {
        m = published[i][1];
        break;
      }
    return m;
  };
  /** Arrival times at the server of shown events (each its own batch here) and of the counted ones. */
  const shown: number[] = [];
  const arrivals: number[] = [];
  let state: PacingState | null = null;
  const end = DAY0 + days.length * DAY_MS;
  for (let t = DAY0; t < end; t += MINUTE) {
    const day = days[Math.floor((t - DAY0) / DAY_MS)];
    const hour = ((t - DAY0) % DAY_MS) / 3_600_000;
    const shape = 1 + 0.6 * Math.sin((2 * Math.PI * (hour - 10)) / 24);
    const spike = day.spike && hour >= day.spike[0] && hour < day.spike[1] ? day.spike[2] : 1;
    const views = poisson(random, (day.demand / (24 * 60)) * shape * spike);
    for (let v = 0; v < views; v++) {
      // The device holds a policy fetched up to 5 minutes ago.
      const m = multiplierAt(t - random() * 5 * MINUTE);
      if (random() >= m) continue;
      const at = t + random() * 15 * MINUTE;
      shown.push(at);
      if (random() < success) arrivals.push(at);
    }
    if ((t - DAY0) % STEP === 0 && t > DAY0) {
      const midnight = Math.floor(t / DAY_MS) * DAY_MS;
      const today = (list: number[]) => list.filter((a) => a >= midnight && a <= t).length;
      state = pacingStep(state, { perDay }, { count: today(arrivals), batches: today(shown) }, t, K);
      published.push([t, state.multiplier]);
    }
  }
  const received = days.map((_, d) => arrivals.filter((a) => a >= DAY0 + d * DAY_MS && a < DAY0 + (d + 1) * DAY_MS).length);
  return { received, published };
}

describe('pacing converges to its budget (seeded simulation)', () => {
  it('impressions: within 5% of the budget on a plain day and on a day with a ×6 spike; below-budget demand is not held back', () => {
    const perDay = 3000;
    const days: Day[] = [{ demand: 9000 }, { demand: 9000 }, { demand: 9000, spike: [12, 13, 6] }, { demand: 2000 }, { demand: 9000 }];
    const { received, published } = simulate(days, perDay, 1, 7);
    console.log(`pacing, impressions budget ${perDay}/day: received per day ${received.join(', ')} (demand ${days.map((d) => d.demand)})`);
    for (const d of [0, 1, 2, 4]) {
      expect(Math.abs(received[d] - perDay) / perDay, `day ${d}`).toBeLessThanOrEqual(0.05);
    }
    // Demand below the budget: the multiplier stays near 1, so about all of it is delivered (Poisson: ±3%).
    expect(received[3]).toBeGreaterThan(2000 * 0.93);
    expect(received[3]).toBeLessThanOrEqual(perDay);
    // It opens at yesterday's rate (about 1/3) until k batches arrive, then lets everything through.
    const day3 = published.filter(([t]) => t >= DAY0 + 3 * DAY_MS + 2 * 3_600_000 && t < DAY0 + 4 * DAY_MS).map(([, m]) => m);
    expect(day3.filter((m) => m === 1).length / day3.length).toBeGreaterThan(0.9);
    // A demanding day holds the activity back (average multiplier about 1/3).
    const day1 = published.filter(([t]) => t >= DAY0 + DAY_MS && t < DAY0 + 2 * DAY_MS).map(([, m]) => m);
    const mean = day1.reduce((a, b) => a + b, 0) / day1.length;
    expect(mean).toBeGreaterThan(0.2);
    expect(mean).toBeLessThan(0.5);
  });

  it('redemptions (5% of impressions): within 10% of a budget of 150 a day, spike included', () => {
    const perDay = 150;
    const days: Day[] = [{ demand: 9000 }, { demand: 9000 }, { demand: 9000, spike: [15, 16, 6] }];
    const { received } = simulate(days, perDay, 0.05, 11);
    console.log(`pacing, redemptions budget ${perDay}/day: received per day ${received.join(', ')} (expected demand 450/day)`);
    for (const d of [0, 1, 2]) expect(Math.abs(received[d] - perDay) / perDay, `day ${d}`).toBeLessThanOrEqual(0.1);
  });
});

describe('pacing uses counts only from k batches on', () => {
  const noon = DAY0 + DAY_MS / 2;
  it('keeps the previous multiplier while today has fewer than k batches, whatever the count', () => {
    const first = pacingStep(null, { perDay: 100 }, { count: 10_000, batches: K - 1 }, noon, K);
    expect(first.multiplier).toBe(1);
    const held: PacingState = { ...first, multiplier: 0.4, delivered: 100, exposure: 1e5 };
    const next = pacingStep(held, { perDay: 100 }, { count: 10_000, batches: K - 1 }, noon + STEP, K);
    expect(next.multiplier).toBe(0.4);
    // The interval keeps running: the step that has k batches measures from the last used one.
    expect(next.lastAt).toBe(held.lastAt);
    const used = pacingStep(next, { perDay: 100 }, { count: 10_000, batches: K }, noon + 2 * STEP, K);
    expect(used.multiplier).toBe(0);
    expect(used.lastAt).toBe(noon + 2 * STEP);
  });

  it('opens a new day at the rate the last demand estimate asks for, before any of its counts reach k', () => {
    // Yesterday's estimate: 9,000 deliveries a day at multiplier 1 (e.g. 50 in 8 minutes).
    const exposure = (50 / 9000) * DAY_MS;
    const yesterday: PacingState = {
      multiplier: 0,
      day: DAY0,
      lastCount: 3000,
      lastAt: DAY0 + DAY_MS - STEP,
      delivered: 50,
      exposure,
      steppedAt: 0,
    };
    const opened = pacingStep(yesterday, { perDay: 3000 }, { count: 2, batches: 2 }, DAY0 + DAY_MS + STEP, K);
    expect(opened.multiplier).toBeCloseTo(1 / 3, 6);
    expect(opened.day).toBe(DAY0 + DAY_MS);
    expect(opened.lastCount).toBe(0);
  });
});
