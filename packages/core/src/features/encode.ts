import type { ProfileAggregates } from './profile-aggregates';
import { profileTotals, writeProfile } from './profile-block';
import type { Activity, FeatureRecord } from '../domain/activity';
import { PROFILE_FEATURES, featureWidth, type FeatureSpec, type FittedFeature } from './spec';
import { categoryFor, categoryOf, numberOf, readValue } from './values';

/** See `FeatureEncoder.encodeFactored`. */
export interface FactoredBatch {
  n: number;
  width: number;
  /** n x width: variable columns, then a one-hot over `signatures`. */
  rows: Float32Array;
  /** Dense column index of each of the first `variableColumns.length` inputs. */
  variableColumns: Int32Array;
  /** For each signature input: the dense cross columns it stands for. */
  signatures: Int32Array[];
  /** Non-zero dense entries shared by every candidate. */
  shared: { index: Int32Array; value: Float32Array };
}

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
  /** Columns that differ between candidates and are not crosses (activity fields, profile block). */
  private readonly variableColumns: Int32Array;

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
    const variable: number[] = [];
    for (const col of this.perActivity) {
      if (col.feature.kind === 'cross') continue;
      for (let i = 0; i < featureWidth(col.feature); i++) variable.push(col.offset + i);
    }
    for (let i = this.profileOffset; i < this.dimension; i++) variable.push(i);
    this.variableColumns = Int32Array.from(variable);
    if (this.dimension !== spec.dimension) {
      throw new Error(`feature spec says dimension ${spec.dimension} but its features add up to ${this.dimension}`);
    }
  }

  /** Inputs per candidate in the factored form, before cross signatures (see encodeFactored). */
  get variableWidth(): number {
    return this.variableColumns.length;
  }

  /** One row per activity, row-major `activities.length x dimension`. */
  encodeBatch(activities: readonly Activity[], context: FeatureRecord, user: FeatureRecord, profile: ProfileAggregates): Float32Array {
    return this.expand(this.encodeFactored(activities, context, user, profile));
  }

  /**
   * The dense vectors a factored batch stands for: shared entries, then each candidate's variable
   * columns and cross columns. Dense and factored encodings cannot drift apart: one produces the other.
   */
  expand(batch: FactoredBatch): Float32Array {
    const d = this.dimension;
    const v = batch.variableColumns.length;
    const out = new Float32Array(batch.n * d);
    for (let r = 0; r < batch.n; r++) {
      const row = r * d;
      for (let j = 0; j < batch.shared.index.length; j++) out[row + batch.shared.index[j]] = batch.shared.value[j];
      for (let k = 0; k < v; k++) out[row + batch.variableColumns[k]] = batch.rows[r * batch.width + k];
      const signature = batch.rows.subarray(r * batch.width + v, (r + 1) * batch.width).indexOf(1);
      for (const c of batch.signatures[signature]) out[row + c] = 1;
    }
    return out;
  }

  /**
   * The model's input, arranged for a cheap first layer (`expand` gives the dense vectors). The first layer is
   * linear before its activation, so x·W = (shared part)·W + (variable part)·W + Σ crosses·W:
   * - `shared`: non-zero context/user entries, identical for every candidate (fold into the bias);
   * - `rows`: per candidate, the variable columns then a one-hot over cross signatures (the set of
   *   cross columns a candidate lights up depends only on its activity fields, so candidates share
   *   a handful of signatures; each becomes one input whose weight is the sum of its columns').
   * Scores are identical to the dense encoding; the per-candidate width drops from `dimension`
   * (hundreds) to `variableColumns + signatures` (tens).
   */
  encodeFactored(activities: readonly Activity[], context: FeatureRecord, user: FeatureRecord, profile: ProfileAggregates): FactoredBatch {
    const n = activities.length;
    const d = this.dimension;
    const template = new Float32Array(d);
    const first = activities[0] ?? { id: '', type: '' };
    for (const col of this.shared) write(template, 0, col, first, context, user);
    const sharedIndex: number[] = [];
    const sharedValue: number[] = [];
    template.forEach((v, i) => {
      if (v !== 0) {
        sharedIndex.push(i);
        sharedValue.push(v);
      }
    });
    const profileBase = this.spec.profile ? profileTotals(profile, this.spec.priors) : undefined;
    const resolved = this.perActivity.map((col) => resolveCross(col, first, context, user));
    const vars = this.variableColumns;
    const v = vars.length;
    const variable = new Float32Array(n * v);
    const signatureOf = new Int32Array(n);
    const signatureIds = new Map<string, number>();
    const signatures: Int32Array[] = [];
    const scratch = new Float32Array(d);
    for (let r = 0; r < n; r++) {
      const a = activities[r];
      const active: number[] = [];
      for (let c = 0; c < this.perActivity.length; c++) {
        const col = this.perActivity[c];
        const cross = resolved[c];
        if (cross) {
          const i = cross.index.get(categoryOf(readValue(cross.activityPart, a, context, user)) ?? '');
          if (i !== undefined) active.push(col.offset + i);
        } else if (col.feature.kind === 'cross') {
          const i = categoryFor(col.feature, a, context, user);
          const j = i === undefined ? undefined : col.index!.get(i);
          if (j !== undefined) active.push(col.offset + j);
        } else {
          write(scratch, 0, col, a, context, user);
        }
      }
      if (profileBase) writeProfile(scratch, this.profileOffset, profileBase, profile, a, this.spec.priors);
      for (let k = 0; k < v; k++) {
        variable[r * v + k] = scratch[vars[k]];
        scratch[vars[k]] = 0;
      }
      const key = active.join(',');
      let id = signatureIds.get(key);
      if (id === undefined) {
        id = signatures.length;
        signatureIds.set(key, id);
        signatures.push(Int32Array.from(active));
      }
      signatureOf[r] = id;
    }
    const width = v + signatures.length;
    const rows = new Float32Array(n * width);
    for (let r = 0; r < n; r++) {
      rows.set(variable.subarray(r * v, (r + 1) * v), r * width);
      rows[r * width + v + signatureOf[r]] = 1;
    }
    return {
      n,
      width,
      rows,
      variableColumns: vars,
      signatures,
      shared: { index: Int32Array.from(sharedIndex), value: Float32Array.from(sharedValue) },
    };
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
function resolveCross(
  col: Column,
  first: Activity,
  context: FeatureRecord,
  user: FeatureRecord,
): { activityPart: FittedFeature & { source: 'activity' }; index: Map<string, number> } | undefined {
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
