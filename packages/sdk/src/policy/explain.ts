import type { ProfileAggregates } from '@vitrine/core/features';
import type { Activity, Reason } from '../types';

/** Short, shopper-readable reasons for one placement. */
export function explain(activity: Activity, score: number, propensity: number, explored: boolean, profile: ProfileAggregates): Reason[] {
  const reasons: Reason[] = [{ code: 'model', text: `predicted chance of interest ${(score * 100).toFixed(1)}%` }];
  const byType = profile.byType[activity.type];
  const answered = byType ? byType.positives + byType.negatives : 0;
  if (answered > 0) {
    reasons.push({ code: 'profile', text: `you responded to ${byType!.positives} of ${answered} earlier ${activity.type} offers` });
  }
  if (explored) reasons.push({ code: 'explore', text: `shown in a randomised order to learn what works (p=${propensity.toFixed(3)})` });
  return reasons;
}
