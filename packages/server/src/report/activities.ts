/**
 * Owns the report's per-activity table (pure): impressions (events), clicks (events with reward
 * > 0), CTR with a 95% Wilson interval and the reward rate, only for activities seen in at least k
 * distinct batches; the others are counted, never named.
 */
import type { SignalEvent } from '@vitrine/core/protocol';
import { wilson } from './intervals';

export interface ActivityRow {
  id: string;
  batches: number;
  impressions: number;
  clicks: number;
  ctr: number;
  ctrLow: number;
  ctrHigh: number;
  rewardRate: number;
}

export function activityReport(
  batches: readonly (readonly SignalEvent[])[],
  k: number,
): { activities: ActivityRow[]; suppressedActivities: number } {
  const by = new Map<string, { batches: number; impressions: number; clicks: number; reward: number }>();
  for (const events of batches) {
    const seen = new Set<string>();
    for (const e of events) {
      let s = by.get(e.activityId);
      if (!s) by.set(e.activityId, (s = { batches: 0, impressions: 0, clicks: 0, reward: 0 }));
      if (!seen.has(e.activityId)) {
        s.batches += 1;
        seen.add(e.activityId);
      }
      s.impressions += 1;
      if (e.reward > 0) s.clicks += 1;
      s.reward += e.reward;
    }
  }
  const activities: ActivityRow[] = [];
  for (const [id, s] of by) {
    if (s.batches < Math.max(1, k)) continue;
    const w = wilson(s.clicks, s.impressions)!;
    activities.push({
      id,
      batches: s.batches,
      impressions: s.impressions,
      clicks: s.clicks,
      ctr: w.estimate,
      ctrLow: w.low,
      ctrHigh: w.high,
      rewardRate: s.reward / s.impressions,
    });
  }
  activities.sort((a, b) => a.id.localeCompare(b.id));
  return { activities, suppressedActivities: by.size - activities.length };
}
