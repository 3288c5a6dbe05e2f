import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { chooseSlate, topK } from '../src/policy/epsilon-greedy';
import { isEligible } from '../src/policy/eligibility';
import { seededRandom } from '@vitrine/core/random';

describe('epsilon-greedy slate policy', () => {
  const scores = [0.1, 0.9, 0.5, 0.3];

  it('places items greedily by score when not exploring', () => {
    const slate = chooseSlate(scores, 3, 0, Math.random);
    expect(slate.order).toEqual([1, 2, 3]);
    expect(slate.propensities).toEqual([1, 1, 1]);
    expect(slate.explored).toBe(false);
  });

  it('logs propensities equal to the empirical placement frequencies', () => {
    const eps = 0.3;
    const random = seededRandom(7);
    const counts = new Map<string, number>();
    const logged = new Map<string, number>();
    const trials = 40_000;
    for (let t = 0; t < trials; t++) {
      const s = chooseSlate(scores, 2, eps, random);
      s.order.forEach((item, pos) => {
        const key = `${item}@${pos}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
        logged.set(key, s.propensities[pos]);
      });
    }
    for (const [key, c] of counts) expect(Math.abs(c / trials - logged.get(key)!)).toBeLessThan(0.01);
    // greedy top item at position 0: (1 - eps) + eps / n
    expect(logged.get('1@0')).toBeCloseTo(0.7 + 0.3 / 4, 10);
    expect(logged.get('0@0')).toBeCloseTo(0.3 / 4, 10);
  });

  it('keeps ties in the shop order and handles a single candidate', () => {
    expect(chooseSlate([0.5, 0.5, 0.5], 3, 0, Math.random).order).toEqual([0, 1, 2]);
    expect(chooseSlate([0.2], 5, 0.5, () => 0).propensities).toEqual([1]);
  });
});

describe('top-k by sort keys', () => {
  it('equals a comparator sort (score descending, shop order on ties) for any float32 scores', () => {
    const score = fc.oneof(fc.float({ noNaN: true, noDefaultInfinity: true }), fc.constantFrom(0, -0, 0.5, 1, -1));
    fc.assert(
      fc.property(fc.array(score, { maxLength: 80 }), fc.integer({ min: 1, max: 100 }), (xs, k) => {
        const f32 = Float32Array.from(xs);
        const expected = Array.from(f32.keys())
          .sort((a, b) => f32[b] - f32[a] || a - b)
          .slice(0, k);
        expect(topK(f32, Math.min(k, xs.length))).toEqual(expected);
      }),
      { numRuns: 500, seed: 5 },
    );
  });
});

describe('top-k at the size limit', () => {
  it('keeps the index bits apart from the score bits at 100,000 candidates (ties at the end)', () => {
    const n = 100_000;
    const scores = new Float32Array(n).map((_, i) => (i % 7) / 7);
    scores[n - 1] = 1;
    scores[n - 2] = 1;
    expect(topK(scores, 3)).toEqual([n - 2, n - 1, 6]);
    const all = topK(scores, n);
    expect(all.slice(0, 3)).toEqual([n - 2, n - 1, 6]);
    expect(new Set(all).size).toBe(n);
  });

  it('a random() that returns 1 still explores inside the list', () => {
    let draws = 0;
    const explore = () => (draws++ === 0 ? 0 : 1); // explore, then every draw is 1
    const slate = chooseSlate([0.1, 0.9, 0.5], 3, 0.5, explore);
    expect(slate.explored).toBe(true);
    expect([...slate.order].sort()).toEqual([0, 1, 2]);
  });
});

describe('eligibility windows', () => {
  const at = Date.parse('2026-06-01T12:00:00Z');
  it('includes the start and excludes the end', () => {
    expect(isEligible({ id: 'a', type: 't', startsAt: '2026-06-01T12:00:00Z' }, at)).toBe(true);
    expect(isEligible({ id: 'a', type: 't', endsAt: '2026-06-01T12:00:00Z' }, at)).toBe(false);
    expect(isEligible({ id: 'a', type: 't', startsAt: at + 1 }, at)).toBe(false);
    expect(isEligible({ id: 'a', type: 't', startsAt: new Date(at - 1), endsAt: at + 1 }, at)).toBe(true);
  });
});
