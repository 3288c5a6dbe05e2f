import { activityAttributes, type ProfileAggregates } from '../profile/aggregate';
import type { Activity, FeatureRecord } from '../types';
import { PROFILE_FEATURES, featureWidth, type FeatureSpec, type FittedFeature, type Priors } from './spec';
import { categoryFor, categoryOf, numberOf, readValue } from './values';

interface Column {
  feature: FittedFeature;
  offset: number;
  index?: Map<string, number>;
}

/**
 * Encodes (activity, context, user, profile) into the model's input vector. The ONE
 * implementation used by training, evaluation and the browser SDK.
 */
export class FeatureEncoder {
  readonly dimension: number;
  private readonly shared: Column[] = [];
  private readonly perActivity: Column[] = [];
  private readonly profileOffset: number;

  constructor(readonly spec: FeatureSpec) {
    let offset = 0;
    for (const feature of spec.features) {
      const col: Column = { feature, offset };
      if (feature.kind !== 'numeric') col.index = new Map(feature.vocab.map((v, i) => [v, i]));
      const perActivity = feature.kind === 'cross' ? feature.parts.some((p) => p.source === 'activity') : feature.source === 'activity';
      (perActivity ? this.perActivity : this.shared).push(col);
      offset += featureWidth(feature);
    }
    this.profileOffset = offset;
    this.dimension = offset + (spec.profile ? PROFILE_FEATURES.length : 0);
    if (this.dimension !== spec.dimension) {
      throw new Error(`feature spec says dimension ${spec.dimension} but its features add up to ${this.dimension}`);
    }
  }

  /** One row per activity, row-major `activities.length x dimension`. */
  encodeBatch(activities: readonly Activity[], context: FeatureRecord, user: FeatureRecord, profile: ProfileAggregates): Float32Array {
    const d = this.dimension;
    const out = new Float32Array(activities.length * d);
    if (activities.length === 0) return out;
    // Context and user columns are the same for every candidate: encode once, copy per row.
    const template = new Float32Array(d);
    for (const col of this.shared) write(template, 0, col, activities[0], context, user);
    const profileBase = this.spec.profile ? profileTotals(profile, this.spec.priors) : undefined;
    const resolved = this.perActivity.map((col) => resolveCross(col, activities[0], context, user));
    for (let r = 0; r < activities.length; r++) {
      const a = activities[r];
      const row = r * d;
      out.set(template, row);
      for (let c = 0; c < this.perActivity.length; c++) {
        const col = this.perActivity[c];
        const cross = resolved[c];
        if (cross) {
          const i = cross.index.get(categoryOf(readValue(cross.activityPart, a, context, user)) ?? '');
          if (i !== undefined) out[row + col.offset + i] = 1;
        } else {
          write(out, row, col, a, context, user);
        }
      }
      if (profileBase) writeProfile(out, row + this.profileOffset, profileBase, profile, a, this.spec.priors);
    }
    return out;
  }

  encode(activity: Activity, context: FeatureRecord, user: FeatureRecord, profile: ProfileAggregates): Float32Array {
    return this.encodeBatch([activity], context, user, profile);
  }
}

const SEP = '\u241f';

/**
 * A cross of an activity field with a context/user field: the latter is the same for every
 * candidate of a batch, so resolve it once and map the activity value straight to its column.
 */
function resolveCross(col: Column, first: Activity, context: FeatureRecord, user: FeatureRecord): { activityPart: FittedFeature & { source: 'activity' }; index: Map<string, number> } | undefined {
  const f = col.feature;
  if (f.kind !== 'cross') return undefined;
  const side = f.parts.findIndex((p) => p.source === 'activity');
  if (side < 0 || f.parts[1 - side].source === 'activity') return undefined;
  const shared = categoryOf(readValue(f.parts[1 - side], first, context, user));
  const index = new Map<string, number>();
  if (shared !== undefined) {
    f.vocab.forEach((v, i) => {
      const [a, b] = v.split(SEP);
      const [activityValue, sharedValue] = side === 0 ? [a, b] : [b, a];
      if (sharedValue === shared) index.set(activityValue, i);
    });
  }
  return { activityPart: f.parts[side] as FittedFeature & { source: 'activity' }, index };
}

function write(out: Float32Array, row: number, col: Column, a: Activity, context: FeatureRecord, user: FeatureRecord): void {
  const f = col.feature;
  if (f.kind === 'numeric') {
    const x = numberOf(readValue(f, a, context, user));
    out[row + col.offset] = x === undefined ? 0 : (x - f.mean) / f.std;
    return;
  }
  const c = categoryFor(f, a, context, user);
  const i = c === undefined ? undefined : col.index!.get(c);
  if (i !== undefined) out[row + col.offset + i] = 1;
}

interface ProfileTotals {
  answered: number;
  residual: number;
  rate: number;
  last: number;
  recent5: number;
}

const log1p = Math.log1p;

const RESIDUAL_SMOOTHING = 2;

/** (observed positives - positives expected from the population rate) / (answers + smoothing). */
function residual(c: { positives: number; negatives: number } | undefined, prior: number): number {
  if (!c) return 0;
  const n = c.positives + c.negatives;
  return (c.positives - n * prior) / (n + RESIDUAL_SMOOTHING);
}

function profileTotals(p: ProfileAggregates, priors: Priors): ProfileTotals {
  const answered = p.total.positives + p.total.negatives;
  const recent = p.recent.slice(-5);
  const recentPos = recent.reduce((s, e) => s + e.positive, 0);
  const lastEvent = p.recent[p.recent.length - 1];
  let expected = 0;
  for (const [type, c] of Object.entries(p.byType)) expected += (c.positives + c.negatives) * (priors.byType[type] ?? priors.global);
  return {
    answered,
    residual: (p.total.positives - expected) / (answered + RESIDUAL_SMOOTHING),
    // Beta(1,1)-smoothed acceptance rate: 0.5 with no history.
    rate: (p.total.positives + 1) / (answered + 2),
    last: lastEvent ? (lastEvent.positive ? 1 : -1) : 0,
    recent5: (recentPos + 0.5) / (recent.length + 1),
  };
}

function writeProfile(out: Float32Array, at: number, t: ProfileTotals, p: ProfileAggregates, a: Activity, priors: Priors): void {
  const type = p.byType[a.type];
  const typeAnswered = type ? type.positives + type.negatives : 0;
  // Shrink the per-type rate towards the shopper's overall rate, and the per-activity rate towards the type rate.
  const typeRate = ((type?.positives ?? 0) + 2 * t.rate) / (typeAnswered + 2);
  const act = p.byActivity[a.id];
  const actAnswered = act ? act.positives + act.negatives : 0;
  const actRate = ((act?.positives ?? 0) + 2 * typeRate) / (actAnswered + 2);
  let lastType = 0;
  for (let i = p.recent.length - 1; i >= 0; i--) {
    if (p.recent[i].type === a.type) { lastType = p.recent[i].positive ? 1 : -1; break; }
  }
  out[at] = log1p(t.answered);
  out[at + 1] = t.rate;
  out[at + 2] = log1p(typeAnswered);
  out[at + 3] = typeRate;
  out[at + 4] = log1p(actAnswered);
  out[at + 5] = actRate;
  out[at + 6] = t.last;
  out[at + 7] = lastType;
  out[at + 8] = t.recent5;
  out[at + 9] = t.answered > 0 ? 1 : 0;
  out[at + 10] = log1p(type?.views ?? 0);
  out[at + 11] = t.residual;
  out[at + 12] = residual(type, priors.byType[a.type] ?? priors.global);
  out[at + 13] = residual(act, priors.byActivity[a.id] ?? priors.byType[a.type] ?? priors.global);
  out[at + 14] = meanResidual(Object.entries(activityAttributes(a.features) ?? {}).map(([k, v]) => `${k}=${v}`), p.byAttribute, priors.byAttribute, priors.global);
}

/** Mean residual of the shopper's answers over the given `name=value` keys that have history (0 if none). */
function meanResidual(keys: string[], counts: Record<string, { positives: number; negatives: number }> | undefined, prior: Record<string, number>, global: number): number {
  let sum = 0;
  let count = 0;
  for (const key of keys) {
    const c = counts?.[key];
    if (!c) continue;
    sum += residual(c, prior[key] ?? global);
    count += 1;
  }
  return count ? sum / count : 0;
}
