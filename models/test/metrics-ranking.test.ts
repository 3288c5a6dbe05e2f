// NDCG@k and hit rate@k on lists small enough to compute by hand.
import { describe, expect, it } from 'vitest';
import { dcgAtK, hitAtK, ndcgAtK, rankingMetrics, rankOrder } from '../src/metrics';

describe('ranking metrics', () => {
  it('ranks by descending score and breaks ties by input order', () => {
    expect(rankOrder([0.2, 0.9, 0.5])).toEqual([1, 2, 0]);
    expect(rankOrder([0.5, 0.9, 0.5, 0.5])).toEqual([1, 0, 2, 3]);
  });

  it('discounts by log2(position + 1)', () => {
    // 1/log2(2) + 0 + 1/log2(4) = 1 + 0.5
    expect(dcgAtK([1, 0, 1], 3)).toBeCloseTo(1.5, 12);
    expect(dcgAtK([1, 0, 1], 2)).toBeCloseTo(1, 12);
    // k larger than the list: the whole list
    expect(dcgAtK([1, 0, 1], 10)).toBeCloseTo(1.5, 12);
  });

  it('normalizes by the ideal DCG', () => {
    // order by score: items 1 (rel 0), 2 (rel 1), 0 (rel 1) -> DCG@3 = 1/log2(3) + 1/log2(4)
    // ideal [1, 1, 0] -> 1 + 1/log2(3)
    const scores = [0.1, 0.9, 0.5];
    const rel = [1, 0, 1];
    const dcg3 = 1 / Math.log2(3) + 0.5;
    const idcg3 = 1 + 1 / Math.log2(3);
    expect(ndcgAtK(scores, rel, 3)).toBeCloseTo(dcg3 / idcg3, 12); // 0.6934...
    expect(ndcgAtK(scores, rel, 3)).toBeCloseTo(0.693426, 6);
    expect(ndcgAtK(scores, rel, 1)).toBe(0); // top item not relevant
    // @2: DCG = 1/log2(3), ideal = 1 + 1/log2(3)
    expect(ndcgAtK(scores, rel, 2)).toBeCloseTo(1 / Math.log2(3) / (1 + 1 / Math.log2(3)), 12);
    expect(ndcgAtK(scores, rel, 5)).toBeCloseTo(ndcgAtK(scores, rel, 3), 12);
    expect(
      ndcgAtK(
        [0.9, 0.5, 0.1],
        rel.slice().sort((a, b) => b - a),
        3,
      ),
    ).toBe(1);
    expect(ndcgAtK([0.3, 0.2], [0, 0], 3)).toBeNaN();
  });

  it('resolves ties deterministically, by input order', () => {
    // all scores equal: the order is the input order [0, 1, 1]
    expect(ndcgAtK([0.5, 0.5, 0.5], [0, 1, 1], 1)).toBe(0);
    expect(ndcgAtK([0.5, 0.5, 0.5], [1, 0, 0], 1)).toBe(1);
    expect(hitAtK([0.5, 0.5, 0.5], [0, 0, 1], 2)).toBe(0);
    expect(hitAtK([0.5, 0.5, 0.5], [0, 0, 1], 3)).toBe(1);
  });

  it('counts a hit when a relevant item is in the top k, k beyond the list included', () => {
    expect(hitAtK([0.1, 0.9, 0.5], [1, 0, 0], 1)).toBe(0);
    expect(hitAtK([0.1, 0.9, 0.5], [1, 0, 0], 2)).toBe(0);
    expect(hitAtK([0.1, 0.9, 0.5], [1, 0, 0], 3)).toBe(1);
    expect(hitAtK([0.1, 0.9], [1, 0], 10)).toBe(1);
  });

  it('averages over lists with a positive and at least 2 items, counting the skipped ones', () => {
    const lists = [
      { scores: [0.1, 0.9, 0.5], labels: [1, 0, 1] }, // ndcg@1 0, @3 0.6934; hit@1 0, hit@3 1
      { scores: [0.8, 0.2], labels: [1, 0] }, // perfect
      { scores: [0.8, 0.2], labels: [1, 1] }, // all positive
      { scores: [0.7], labels: [1] }, // single: skipped
      { scores: [0.4, 0.6], labels: [0, 0] }, // no positive: skipped
    ];
    const s = rankingMetrics(lists, [1, 3]);
    expect(s).toMatchObject({ lists: 3, skipped_single: 1, skipped_no_positive: 1, all_positive: 1, k: [1, 3] });
    expect(s.ndcg[1]).toBeCloseTo(2 / 3, 12);
    expect(s.ndcg[3]).toBeCloseTo((0.693426 + 2) / 3, 6);
    expect(s.hit_rate[1]).toBeCloseTo(2 / 3, 12);
    expect(s.hit_rate[3]).toBe(1);
    expect(rankingMetrics([], [1]).ndcg[1]).toBeNaN();
  });
});
