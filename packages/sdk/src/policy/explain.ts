import { own, type FeatureEncoder, type ProfileAggregates } from '@vitrine/core/features';
import type { Activity, FeatureRecord, Reason } from '../types';

/** Short, shopper-readable reasons for one placement, attached to every ranked item (cheap: no scoring). */
export function explain(activity: Activity, score: number, propensity: number, explored: boolean, profile: ProfileAggregates): Reason[] {
  const reasons: Reason[] = [{ code: 'model', text: `predicted chance of interest ${(score * 100).toFixed(1)}%` }];
  const byType = own(profile.byType, activity.type);
  const answered = byType ? byType.positives + byType.negatives : 0;
  if (answered > 0) {
    reasons.push({ code: 'profile', text: `you responded to ${byType!.positives} of ${answered} earlier ${activity.type} offers` });
  }
  if (explored) reasons.push({ code: 'explore', text: `shown in a randomised order to learn what works (p=${propensity.toFixed(3)})` });
  return reasons;
}

/** What a decision ranked with, kept so that `explain()` scores exactly the same inputs later. */
export interface DecisionInputs {
  context: FeatureRecord;
  user: FeatureRecord;
  profile: ProfileAggregates;
  /** Ids placed where the greedy order would not have put them (the policy explored). */
  exploredIds: ReadonlySet<string>;
}

/** The activity ids a model's feature spec knows (null: it has no id feature, so no activity is "new" to it). */
export function knownActivityIds(encoder: FeatureEncoder): ReadonlySet<string> | null {
  const feature = encoder.spec.features.find((f) => f.source === 'activity' && f.key === 'id');
  return feature && 'vocab' in feature ? new Set(feature.vocab) : null;
}
