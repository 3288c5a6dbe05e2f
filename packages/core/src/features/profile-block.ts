import type { Activity } from '../domain/activity';
import { ATTRIBUTE_MAX_LENGTH, own, type Counts, type ProfileAggregates } from './profile-aggregates';
import type { Priors } from './spec';

/**
 * The profile block: what the shopper did, compared with what people usually do, appended after
 * the declared features. PROFILE_FEATURES is the one list of its columns, in order; the names in
 * manifests and the column offsets the encoder writes to (PROFILE_COLUMN) both derive from it.
 */
export const PROFILE_FEATURES = [
  'profile.answered_log',
  'profile.accept_rate',
  'profile.type_answered_log',
  'profile.type_accept_rate',
  'profile.activity_answered_log',
  'profile.activity_accept_rate',
  'profile.last_outcome',
  'profile.last_outcome_type',
  'profile.recent5_accept_rate',
  'profile.has_history',
  'profile.type_views_log',
  'profile.residual',
  'profile.type_residual',
  'profile.activity_residual',
  'profile.attribute_residual',
  'profile.logit_effect',
  'profile.type_logit_effect',
] as const;
export type ProfileFeatureName = (typeof PROFILE_FEATURES)[number];
/** Offset of each profile column within the block, by name. */
export const PROFILE_COLUMN = Object.fromEntries(PROFILE_FEATURES.map((name, i) => [name, i])) as Readonly<
  Record<ProfileFeatureName, number>
>;

/** Per-shopper totals, computed once per rank (shared by every candidate). */
export interface ProfileTotals {
  answered: number;
  answeredLog: number;
  residual: number;
  /** One Newton step for an additive shopper effect on the logit scale, all answers. */
  logitEffect: number;
  /** The same, per activity type. */
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

export function profileTotals(p: ProfileAggregates, priors: Priors): ProfileTotals {
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
    answeredLog: log1p(answered),
    residual: (p.total.positives - expected) / (answered + RESIDUAL_SMOOTHING),
    logitEffect: score / (info + LOGIT_SHRINKAGE),
    typeLogitEffect,
    // Beta(1,1)-smoothed acceptance rate: 0.5 with no history.
    rate: (p.total.positives + 1) / (answered + 2),
    last: lastEvent ? (lastEvent.positive ? 1 : -1) : 0,
    recent5: (recentPos + 0.5) / (recent.length + 1),
  };
}

/** The columns that depend only on the candidate's type: computed once per type and batch. */
export interface ProfileTypeTerms {
  typeAnsweredLog: number;
  typeRate: number;
  lastType: number;
  typeViewsLog: number;
  typeResidual: number;
  typeLogitEffect: number;
}

export function profileTypeTerms(totals: ProfileTotals, p: ProfileAggregates, type: string, priors: Priors): ProfileTypeTerms {
  const counts = own(p.byType, type);
  const typeAnswered = counts ? counts.positives + counts.negatives : 0;
  let lastType = 0;
  for (let i = p.recent.length - 1; i >= 0; i--) {
    if (p.recent[i].type === type) {
      lastType = p.recent[i].positive ? 1 : -1;
      break;
    }
  }
  return {
    typeAnsweredLog: log1p(typeAnswered),
    // Shrink the per-type rate towards the shopper's overall rate.
    typeRate: ((counts?.positives ?? 0) + 2 * totals.rate) / (typeAnswered + 2),
    lastType,
    typeViewsLog: log1p(counts?.views ?? 0),
    typeResidual: residual(counts, own(priors.byType, type) ?? priors.global),
    typeLogitEffect: totals.typeLogitEffect.get(type) ?? 0,
  };
}

// Column offsets as module constants: these are written once per candidate.
const col = (name: ProfileFeatureName) => PROFILE_COLUMN[name];
const ANSWERED_LOG = col('profile.answered_log');
const ACCEPT_RATE = col('profile.accept_rate');
const TYPE_ANSWERED_LOG = col('profile.type_answered_log');
const TYPE_ACCEPT_RATE = col('profile.type_accept_rate');
const ACTIVITY_ANSWERED_LOG = col('profile.activity_answered_log');
const ACTIVITY_ACCEPT_RATE = col('profile.activity_accept_rate');
const LAST_OUTCOME = col('profile.last_outcome');
const LAST_OUTCOME_TYPE = col('profile.last_outcome_type');
const RECENT5_ACCEPT_RATE = col('profile.recent5_accept_rate');
const HAS_HISTORY = col('profile.has_history');
const TYPE_VIEWS_LOG = col('profile.type_views_log');
const RESIDUAL = col('profile.residual');
const TYPE_RESIDUAL = col('profile.type_residual');
const ACTIVITY_RESIDUAL = col('profile.activity_residual');
const ATTRIBUTE_RESIDUAL = col('profile.attribute_residual');
const LOGIT_EFFECT = col('profile.logit_effect');
const TYPE_LOGIT_EFFECT = col('profile.type_logit_effect');

/** The profile columns that are the same for every candidate (they describe the shopper only). */
export const SHOPPER_PROFILE_COLUMNS: readonly number[] = [
  ANSWERED_LOG,
  ACCEPT_RATE,
  LAST_OUTCOME,
  RECENT5_ACCEPT_RATE,
  HAS_HISTORY,
  RESIDUAL,
  LOGIT_EFFECT,
];

/** Writes the shopper-level columns (SHOPPER_PROFILE_COLUMNS) of the profile block at `out[at ..]`. */
export function writeShopperProfile(out: Float32Array, at: number, totals: ProfileTotals): void {
  out[at + ANSWERED_LOG] = totals.answeredLog;
  out[at + ACCEPT_RATE] = totals.rate;
  out[at + LAST_OUTCOME] = totals.last;
  out[at + RECENT5_ACCEPT_RATE] = totals.recent5;
  out[at + HAS_HISTORY] = totals.answered > 0 ? 1 : 0;
  out[at + RESIDUAL] = totals.residual;
  out[at + LOGIT_EFFECT] = totals.logitEffect;
}

/**
 * The candidate-level columns of a candidate of one type without history of its own (no answers
 * to this activity, no attribute history): written once per type and batch, copied per candidate,
 * then `writeActivityProfile` writes what differs. Shopper-level columns are left at 0.
 */
export function typeProfileRow(t: ProfileTypeTerms): Float32Array {
  const row = new Float32Array(PROFILE_FEATURES.length);
  row[TYPE_ANSWERED_LOG] = t.typeAnsweredLog;
  row[TYPE_ACCEPT_RATE] = t.typeRate;
  row[ACTIVITY_ACCEPT_RATE] = (0 + 2 * t.typeRate) / (0 + 2);
  row[LAST_OUTCOME_TYPE] = t.lastType;
  row[TYPE_VIEWS_LOG] = t.typeViewsLog;
  row[TYPE_RESIDUAL] = t.typeResidual;
  row[TYPE_LOGIT_EFFECT] = t.typeLogitEffect;
  return row;
}

/** After `typeProfileRow`: the columns that depend on the activity's own history and attributes. */
export function writeActivityProfile(
  out: Float32Array,
  at: number,
  a: Activity,
  priors: Priors,
  t: ProfileTypeTerms,
  act: Counts | undefined,
  attributes: AttributeResiduals | undefined,
): void {
  if (act) {
    const actAnswered = act.positives + act.negatives;
    out[at + ACTIVITY_ANSWERED_LOG] = actAnswered ? log1p(actAnswered) : 0;
    out[at + ACTIVITY_ACCEPT_RATE] = (act.positives + 2 * t.typeRate) / (actAnswered + 2);
    out[at + ACTIVITY_RESIDUAL] = residual(act, own(priors.byActivity, a.id) ?? own(priors.byType, a.type) ?? priors.global);
  }
  if (attributes) out[at + ATTRIBUTE_RESIDUAL] = attributeResidual(a, attributes);
}

/** Writes the candidate's whole profile block at `out[at ..]`, in PROFILE_FEATURES order. */
export function writeProfile(
  out: Float32Array,
  at: number,
  totals: ProfileTotals,
  p: ProfileAggregates,
  a: Activity,
  priors: Priors,
): void {
  const terms = profileTypeTerms(totals, p, a.type, priors);
  out.set(typeProfileRow(terms), at);
  writeShopperProfile(out, at, totals);
  writeActivityProfile(out, at, a, priors, terms, own(p.byActivity, a.id), attributeResiduals(p, priors));
}

/** The shopper's counts per activity id, as a Map (a lookup per candidate without prototype checks). */
export function activityCounts(p: ProfileAggregates): Map<string, Counts & { type?: string }> {
  const out = new Map<string, Counts & { type?: string }>();
  for (const id in p.byActivity) {
    const c = own(p.byActivity, id);
    if (c) out.set(id, c);
  }
  return out;
}

/** Residual per attribute value with history: [attribute name, residual by value] (see attributeResiduals). */
export type AttributeResiduals = [name: string, byValue: Map<string, number>][];

/**
 * The shopper's attribute residuals, arranged for lookups without building `name=value` strings:
 * each stored key is registered under every split at an `=`, so a (name, value) pair finds
 * exactly the keys that `${name}=${value}` would. Undefined when there is no attribute history.
 */
export function attributeResiduals(p: ProfileAggregates, priors: Priors): AttributeResiduals | undefined {
  let out: Map<string, Map<string, number>> | undefined;
  for (const key in p.byAttribute) {
    const c = own(p.byAttribute, key);
    if (!c) continue;
    const r = residual(c, own(priors.byAttribute, key) ?? priors.global);
    for (let at = key.indexOf('='); at >= 0; at = key.indexOf('=', at + 1)) {
      out ??= new Map();
      const name = key.slice(0, at);
      let values = out.get(name);
      if (!values) out.set(name, (values = new Map()));
      values.set(key.slice(at + 1), r);
    }
  }
  return out && [...out];
}

/**
 * Mean residual over the candidate's attribute values that have history (0 if none). Same
 * attribute rule as `activityAttributes` (string values up to 64 characters), without allocating:
 * this runs once per candidate.
 */
function attributeResidual(a: Activity, residuals: AttributeResiduals | undefined): number {
  const features = a.features;
  if (!residuals || !features) return 0;
  let sum = 0;
  let count = 0;
  // By the names with history (a handful), not by the candidate's features.
  for (let i = 0; i < residuals.length; i++) {
    const [name, byValue] = residuals[i];
    if (!Object.prototype.hasOwnProperty.call(features, name)) continue;
    const v = features[name];
    if (typeof v !== 'string' || v.length > ATTRIBUTE_MAX_LENGTH) continue;
    const r = byValue.get(v);
    if (r === undefined) continue;
    sum += r;
    count += 1;
  }
  return count ? sum / count : 0;
}
