/**
 * Owns the report's per-segment × activity table (pure), from segment reports: each batch with an
 * update carries its device's segment through k-ary randomized response (m = segments + 1
 * categories, "none of them" last; true category with probability p = e^ε/(e^ε+m−1), each other
 * with q = 1/(e^ε+m−1)). The server never learns a device's segment; it estimates per activity
 * how many batches, impressions and clicks each segment had with debiasCounts: for segment j,
 * Σ_b X_b (1[reported_b = j] − q)/(p − q) is unbiased for the true Σ over segment j's batches of
 * any per-batch count X (batches, impressions, clicks alike), since E[1[reported = j]] = p for a
 * batch of segment j and q for any other. The CTR's interval is the ratio-of-sums interval over
 * batches of those weighted counts (the randomization is part of each batch's draw).
 *
 * A row is released only when at least k batches REPORTED that segment with the activity and the
 * debiased batch estimate is at least k: no segment × activity below k leaves the server, in what
 * was reported or in what is estimated. Released counts are rounded estimates. Batches whose index
 * is outside the definition (never stored: ingest refuses them) are ignored.
 */
import { debiasCounts, responseProbabilities, type Segment } from '@vitrine/core/policy';
import type { SignalEvent } from '@vitrine/core/protocol';
import { ratioOfSums } from './intervals';

export interface SegmentRow {
  segment: string;
  name: string;
  activity: string;
  /** Estimated batches of the segment with the activity (rounded). */
  batches: number;
  impressions: number;
  clicks: number;
  ctr: number;
  low: number;
  high: number;
}

export interface ReportedBatch {
  /** The reported (randomized) category. */
  index: number;
  events: readonly SignalEvent[];
}

export function segmentReport(
  batches: readonly ReportedBatch[],
  segments: readonly Segment[],
  epsilon: number,
  k: number,
): { rows: SegmentRow[]; suppressed: number } {
  const m = segments.length + 1;
  const { truth: p, other: q } = responseProbabilities(m, epsilon);
  const byActivity = new Map<string, { index: number; impressions: number; clicks: number }[]>();
  for (const b of batches) {
    if (!Number.isInteger(b.index) || b.index < 0 || b.index >= m) continue;
    const per = new Map<string, { impressions: number; clicks: number }>();
    for (const e of b.events) {
      let s = per.get(e.activityId);
      if (!s) per.set(e.activityId, (s = { impressions: 0, clicks: 0 }));
      s.impressions += 1;
      if (e.reward > 0) s.clicks += 1;
    }
    for (const [activity, s] of per) {
      let list = byActivity.get(activity);
      if (!list) byActivity.set(activity, (list = []));
      list.push({ index: b.index, ...s });
    }
  }
  const rows: SegmentRow[] = [];
  let suppressed = 0;
  const floor = Math.max(1, k);
  for (const [activity, clusters] of [...byActivity].sort(([a], [b]) => a.localeCompare(b))) {
    const reported = Array.from({ length: m }, () => 0);
    for (const c of clusters) reported[c.index] += 1;
    const estimatedBatches = debiasCounts(reported, epsilon).estimates;
    segments.forEach((segment, j) => {
      if (reported[j] < floor || !(estimatedBatches[j] >= floor)) {
        suppressed += 1;
        return;
      }
      const w = clusters.map((c) => ((c.index === j ? 1 : 0) - q) / (p - q));
      const x = clusters.map((c, b) => c.impressions * w[b]);
      const y = clusters.map((c, b) => c.clicks * w[b]);
      const impressions = x.reduce((a, v) => a + v, 0);
      const ctr = ratioOfSums(y, x);
      if (!ctr || !(impressions >= floor)) {
        suppressed += 1;
        return;
      }
      rows.push({
        segment: segment.id,
        name: segment.name,
        activity,
        batches: Math.round(estimatedBatches[j]),
        impressions: Math.round(impressions),
        clicks: Math.max(0, Math.round(y.reduce((a, v) => a + v, 0))),
        ctr: Math.min(1, Math.max(0, ctr.estimate)),
        low: ctr.low,
        high: ctr.high,
      });
    });
  }
  return { rows, suppressed };
}
