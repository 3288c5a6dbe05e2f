/**
 * The profile block as SDK 0.4.0 computed it (commit 34e8316), kept verbatim as an independent
 * reference: the batch encoder's per-type rows, attribute lookups and history maps must give
 * exactly these values. Only the exports' names changed; do not "improve" this file.
 */
import type { Activity } from '../src/domain/activity';
import { ATTRIBUTE_MAX_LENGTH, own, type ProfileAggregates } from '../src/features/profile-aggregates';
import { PROFILE_COLUMN } from '../src/features/profile-block';
import type { Priors } from '../src/features/spec';

interface ProfileTotals {
  answered: number;
  residual: number;
  logitEffect: number;
  typeLogitEffect: Map<string, number>;
  rate: number;
  last: number;
  recent5: number;
}

const log1p = Math.log1p;

const RESIDUAL_SMOOTHING = 2;
/** Prior information (in units of one answer at p = 0.5 is 0.25) shrinking the logit effect to 0. */
const LOGIT_SHRINKAGE = 1;

/** (observed positives - positives expected from the population rate) / (answers + smoothing). */
function residual(c: { positives: number; negatives: number } | undefined, prior: number): number {
  if (!c) return 0;
  const n = c.positives + c.negatives;
  return (c.positives - n * prior) / (n + RESIDUAL_SMOOTHING);
}

export function referenceProfileTotals(p: ProfileAggregates, priors: Priors): ProfileTotals {
  const answered = p.total.positives + p.total.negatives;
  const recent = p.recent.slice(-5);
  const recentPos = recent.reduce((s, e) => s + e.positive, 0);
  const lastEvent = p.recent[p.recent.length - 1];
  let expected = 0;
  for (const [type, c] of Object.entries(p.byType)) expected += (c.positives + c.negatives) * (own(priors.byType, type) ?? priors.global);
  // Score/information of the logit-scale shopper offset at 0, using each offer's population rate.
  let score = 0;
  let info = 0;
  const byType = new Map<string, [number, number]>();
  for (const [id, c] of Object.entries(p.byActivity)) {
    const n = c.positives + c.negatives;
    if (n === 0) continue;
    const type = c.type;
    const prior = own(priors.byActivity, id) ?? (type ? own(priors.byType, type) : undefined) ?? priors.global;
    const s = c.positives - n * prior;
    const i = n * prior * (1 - prior);
    score += s;
    info += i;
    if (type) {
      const [ts, ti] = byType.get(type) ?? [0, 0];
      byType.set(type, [ts + s, ti + i]);
    }
  }
  const typeLogitEffect = new Map([...byType].map(([t, [ts, ti]]) => [t, ts / (ti + LOGIT_SHRINKAGE)]));
  return {
    answered,
    residual: (p.total.positives - expected) / (answered + RESIDUAL_SMOOTHING),
    logitEffect: score / (info + LOGIT_SHRINKAGE),
    typeLogitEffect,
    // Beta(1,1)-smoothed acceptance rate: 0.5 with no history.
    rate: (p.total.positives + 1) / (answered + 2),
    last: lastEvent ? (lastEvent.positive ? 1 : -1) : 0,
    recent5: (recentPos + 0.5) / (recent.length + 1),
  };
}

/** Writes the candidate's profile columns at `out[at ..]`, in PROFILE_FEATURES order. */
export function referenceWriteProfile(
  out: Float32Array,
  at: number,
  totals: ProfileTotals,
  p: ProfileAggregates,
  a: Activity,
  priors: Priors,
): void {
  const type = own(p.byType, a.type);
  const typeAnswered = type ? type.positives + type.negatives : 0;
  // Shrink the per-type rate towards the shopper's overall rate, and the per-activity rate towards the type rate.
  const typeRate = ((type?.positives ?? 0) + 2 * totals.rate) / (typeAnswered + 2);
  const act = own(p.byActivity, a.id);
  const actAnswered = act ? act.positives + act.negatives : 0;
  const actRate = ((act?.positives ?? 0) + 2 * typeRate) / (actAnswered + 2);
  let lastType = 0;
  for (let i = p.recent.length - 1; i >= 0; i--) {
    if (p.recent[i].type === a.type) {
      lastType = p.recent[i].positive ? 1 : -1;
      break;
    }
  }
  // Written by name (no positional offsets); a test checks that every column of the list is written.
  const c = PROFILE_COLUMN;
  out[at + c['profile.answered_log']] = log1p(totals.answered);
  out[at + c['profile.accept_rate']] = totals.rate;
  out[at + c['profile.type_answered_log']] = log1p(typeAnswered);
  out[at + c['profile.type_accept_rate']] = typeRate;
  out[at + c['profile.activity_answered_log']] = log1p(actAnswered);
  out[at + c['profile.activity_accept_rate']] = actRate;
  out[at + c['profile.last_outcome']] = totals.last;
  out[at + c['profile.last_outcome_type']] = lastType;
  out[at + c['profile.recent5_accept_rate']] = totals.recent5;
  out[at + c['profile.has_history']] = totals.answered > 0 ? 1 : 0;
  out[at + c['profile.type_views_log']] = log1p(type?.views ?? 0);
  out[at + c['profile.residual']] = totals.residual;
  out[at + c['profile.type_residual']] = residual(type, own(priors.byType, a.type) ?? priors.global);
  out[at + c['profile.activity_residual']] = residual(act, own(priors.byActivity, a.id) ?? own(priors.byType, a.type) ?? priors.global);
  out[at + c['profile.attribute_residual']] = attributeResidual(p, a, priors);
  out[at + c['profile.logit_effect']] = totals.logitEffect;
  out[at + c['profile.type_logit_effect']] = totals.typeLogitEffect.get(a.type) ?? 0;
}

/**
 * Mean residual over the candidate's attribute values that have history (0 if none). Same
 * attribute rule as `activityAttributes` (string values up to 64 characters), without allocating:
 * this runs once per candidate.
 */
function attributeResidual(p: ProfileAggregates, a: Activity, priors: Priors): number {
  const counts = p.byAttribute;
  if (!counts || !a.features) return 0;
  let sum = 0;
  let count = 0;
  for (const k in a.features) {
    const v = a.features[k];
    if (typeof v !== 'string' || v.length > ATTRIBUTE_MAX_LENGTH) continue;
    const key = `${k}=${v}`;
    const c = own(counts, key);
    if (!c) continue;
    sum += residual(c, own(priors.byAttribute, key) ?? priors.global);
    count += 1;
  }
  return count ? sum / count : 0;
}
