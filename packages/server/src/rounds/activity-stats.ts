/** Owns a round's per-activity statistics (impressions, reward rate), released only above the k-threshold. */
import type { SignalEvent } from '@vitrine/core/protocol';

export interface ActivityStats {
  activities: { id: string; batches: number; impressions: number; rewardRate: number }[];
  /** Activities seen in fewer than k batches: counted, never named. */
  suppressedActivities: number;
}

/** Per-activity impressions and reward rate, only for activities seen in >= k batches. */
export function activityStats(batches: SignalEvent[][], k: number): ActivityStats {
  const by = new Map<string, { batches: number; impressions: number; reward: number }>();
  for (const events of batches) {
    const seen = new Set<string>();
    for (const e of events) {
      const s = by.get(e.activityId) ?? { batches: 0, impressions: 0, reward: 0 };
      if (!seen.has(e.activityId)) {
        s.batches += 1;
        seen.add(e.activityId);
      }
      s.impressions += 1;
      s.reward += e.reward;
      by.set(e.activityId, s);
    }
  }
  const activities = [...by]
    .filter(([, s]) => s.batches >= k)
    .map(([id, s]) => ({ id, batches: s.batches, impressions: s.impressions, rewardRate: s.reward / s.impressions }));
  return { activities: activities.sort((a, b) => a.id.localeCompare(b.id)), suppressedActivities: by.size - activities.length };
}
