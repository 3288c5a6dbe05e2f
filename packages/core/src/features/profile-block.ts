import type { Activity } from '../domain/activity';
import { ATTRIBUTE_MAX_LENGTH, type Counts, type ProfileAggregates } from './profile-aggregates';
import type { Priors } from './spec';

/**
 * The profile block: what the shopper did, compared with what people usually do, appended after
 * the declared features. Each column is one entry of PROFILE_BLOCK, keyed by its feature name;
 * the column order, the names in manifests and the encoder all come from this one table.
 */

/** Per-shopper totals, computed once per rank (shared by every candidate). */
export interface ProfileTotals {
  answered: number;
  residual: number;
  /** One Newton step for an additive shopper effect on the logit scale, all answers. */
  logitEffect: number;
  /** The same, per activity type. */
  typeLogitEffect: Map<string, number>;
  rate: number;
  last: number;
  recent5: number;
}

/** Everything one candidate's profile columns read: totals plus the candidate's own history. */
interface CandidateHistory {
  totals: ProfileTotals;
  profile: ProfileAggregates;
  activity: Activity;
  priors: Priors;
  type: Counts | undefined;
  typeAnswered: number;
  typeRate: number;
  act: Counts | undefined;
  actAnswered: number;
  actRate: number;
  lastType: number;
}

const log1p = Math.log1p;

const PROFILE_BLOCK = {
  'profile.answered_log': (h) => log1p(h.totals.answered),
  'profile.accept_rate': (h) => h.totals.rate,
  'profile.type_answered_log': (h) => log1p(h.typeAnswered),
  'profile.type_accept_rate': (h) => h.typeRate,
  'profile.activity_answered_log': (h) => log1p(h.actAnswered),
  'profile.activity_accept_rate': (h) => h.actRate,
  'profile.last_outcome': (h) => h.totals.last,
  'profile.last_outcome_type': (h) => h.lastType,
  'profile.recent5_accept_rate': (h) => h.totals.recent5,
  'profile.has_history': (h) => (h.totals.answered > 0 ? 1 : 0),
  'profile.type_views_log': (h) => log1p(h.type?.views ?? 0),
  'profile.residual': (h) => h.totals.residual,
  'profile.type_residual': (h) => residual(h.type, h.priors.byType[h.activity.type] ?? h.priors.global),
  'profile.activity_residual': (h) =>
    residual(h.act, h.priors.byActivity[h.activity.id] ?? h.priors.byType[h.activity.type] ?? h.priors.global),
  'profile.attribute_residual': (h) => attributeResidual(h.profile, h.activity, h.priors),
  'profile.logit_effect': (h) => h.totals.logitEffect,
  'profile.type_logit_effect': (h) => h.totals.typeLogitEffect.get(h.activity.type) ?? 0,
} as const satisfies Record<string, (h: CandidateHistory) => number>;

export type ProfileFeatureName = keyof typeof PROFILE_BLOCK;
/** Profile features, appended after the declared ones, in this order. Only past events feed them. */
export const PROFILE_FEATURES = Object.keys(PROFILE_BLOCK) as ProfileFeatureName[];
const COLUMNS: ((h: CandidateHistory) => number)[] = Object.values(PROFILE_BLOCK);

const RESIDUAL_SMOOTHING = 2;
/** Prior information (in units of one answer at p = 0.5 is 0.25) shrinking the logit effect to 0. */
const LOGIT_SHRINKAGE = 1;

/** (observed positives - positives expected from the population rate) / (answers + smoothing). */
function residual(c: { positives: number; negatives: number } | undefined, prior: number): number {
  if (!c) return 0;
  const n = c.positives + c.negatives;
  return (c.positives - n * prior) / (n + RESIDUAL_SMOOTHING);
}

export function profileTotals(p: ProfileAggregates, priors: Priors): ProfileTotals {
  const answered = p.total.positives + p.total.negatives;
  const recent = p.recent.slice(-5);
  const recentPos = recent.reduce((s, e) => s + e.positive, 0);
  const lastEvent = p.recent[p.recent.length - 1];
  let expected = 0;
  for (const [type, c] of Object.entries(p.byType)) expected += (c.positives + c.negatives) * (priors.byType[type] ?? priors.global);
  // Score/information of the logit-scale shopper offset at 0, using each offer's population rate.
  let score = 0;
  let info = 0;
  const byType = new Map<string, [number, number]>();
  for (const [id, c] of Object.entries(p.byActivity)) {
    const n = c.positives + c.negatives;
    if (n === 0) continue;
    const type = c.type;
    const prior = priors.byActivity[id] ?? (type ? priors.byType[type] : undefined) ?? priors.global;
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
export function writeProfile(
  out: Float32Array,
  at: number,
  totals: ProfileTotals,
  p: ProfileAggregates,
  a: Activity,
  priors: Priors,
): void {
  const type = p.byType[a.type];
  const typeAnswered = type ? type.positives + type.negatives : 0;
  // Shrink the per-type rate towards the shopper's overall rate, and the per-activity rate towards the type rate.
  const typeRate = ((type?.positives ?? 0) + 2 * totals.rate) / (typeAnswered + 2);
  const act = p.byActivity[a.id];
  const actAnswered = act ? act.positives + act.negatives : 0;
  const actRate = ((act?.positives ?? 0) + 2 * typeRate) / (actAnswered + 2);
  let lastType = 0;
  for (let i = p.recent.length - 1; i >= 0; i--) {
    if (p.recent[i].type === a.type) {
      lastType = p.recent[i].positive ? 1 : -1;
      break;
    }
  }
  const history: CandidateHistory = {
    totals,
    profile: p,
    activity: a,
    priors,
    type,
    typeAnswered,
    typeRate,
    act,
    actAnswered,
    actRate,
    lastType,
  };
  for (let k = 0; k < COLUMNS.length; k++) out[at + k] = COLUMNS[k](history);
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
    const c = counts[key];
    if (!c) continue;
    sum += residual(c, priors.byAttribute[key] ?? priors.global);
    count += 1;
  }
  return count ? sum / count : 0;
}
