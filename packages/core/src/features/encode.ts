import type { ProfileAggregates } from './profile-aggregates';
import {
  SHOPPER_PROFILE_COLUMNS,
  activityCounts,
  attributeResiduals,
  profileTotals,
  profileTypeTerms,
  typeProfileRow,
  writeActivityProfile,
  writeShopperProfile,
  type ProfileTypeTerms,
} from './profile-block';
import type { Activity, FeatureRecord } from '../domain/activity';
import { PROFILE_FEATURES, featureWidth, type FeatureSpec, type FittedFeature } from './spec';
import { categoryFor, categoryOf, numberOf, readValue, readerFor } from './values';

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

type Reader = (a: Activity, context: FeatureRecord, user: FeatureRecord) => string | undefined;
type RawReader = ReturnType<typeof readerFor>;

/** A cross of one activity field with one context/user field, indexed by the latter's value. */
interface SidedCross {
  offset: number;
  /** The context/user part: read once per batch. */
  sharedPart: FittedFeature & { source: 'context' | 'user' };
  /** Context/user category → (activity category → column within the cross). */
  bySharedValue: Map<string, Map<string, number>>;
}

/**
 * The one-hot columns that one activity field (its id, its type, one of its features; or a
 * cross of two activity fields) lights up: its categorical columns and its crosses with
 * context/user fields. Candidates differ only in these fields' values, so a batch maps each
 * distinct value to a code once and each candidate to a tuple of codes (its signature).
 */
interface ActivityGroup {
  read: Reader;
  /** The common fields are read inline, without a call per candidate (see FIELD_*). */
  field: number;
  /** For FIELD_FEATURE: the feature's name. */
  featureName: string;
  /** Categorical columns (offset + category index) read from this field. */
  categorical: { offset: number; index: Map<string, number> }[];
  crosses: SidedCross[];
  /** Every category any of the above knows, numbered: any other value lights nothing (code 0). */
  known: Map<string, number>;
  /** Rules out most values that `known` lacks without a hash lookup (catalogs are mostly new ids). */
  maybeKnown: StringPrefilter;
  /** Per known value: the batch generation that gave it `code` (see encodeFactored). */
  stamp: Int32Array;
  code: Int32Array;
}

/** Codes are packed with a partial id into one number: codes stay below 2^26 (exact up to 2^27 candidates). */
const CODE_RADIX = 2 ** 26;
/** Up to this many code tuples, a batch finds signatures in a typed table (16 KB). */
const SIGNATURE_TABLE_MAX = 4096;
const NO_COLUMNS = new Int32Array(0);
const EMPTY_INDEX = new Map<string, number>();

/**
 * Encodes (activity, context, user, profile) into the model's input vector. The ONE
 * implementation used by training, evaluation and the browser SDK.
 */
export class FeatureEncoder {
  readonly dimension: number;
  private readonly shared: Column[] = [];
  private readonly groups: ActivityGroup[] = [];
  /** Numeric activity columns: dense offset and reader. */
  private readonly numeric: { offset: number; feature: FittedFeature & { kind: 'numeric' }; read: RawReader }[] = [];
  private readonly profileOffset: number;
  /** Per activity field: how many codes a batch can give out (known values, plus 0 for "lights nothing"). */
  private readonly radix: number[];
  /** Columns that differ between candidates and are not one-hot (numeric activity fields, profile block). */
  private readonly variableColumns: Int32Array;

  constructor(readonly spec: FeatureSpec) {
    let offset = 0;
    const groupByKey = new Map<string, ActivityGroup>();
    const groupFor = (key: string, read: Reader, [field, featureName] = [FIELD_OTHER, '']) => {
      let g = groupByKey.get(key);
      if (!g) {
        g = {
          read,
          field,
          featureName,
          categorical: [],
          crosses: [],
          known: new Map(),
          maybeKnown: new StringPrefilter(),
          stamp: NO_COLUMNS,
          code: NO_COLUMNS,
        };
        groupByKey.set(key, g);
        this.groups.push(g);
      }
      return g;
    };
    for (const feature of spec.features) {
      const col: Column = { feature, offset };
      if (feature.kind !== 'numeric') col.index = new Map(feature.vocab.map((v, i) => [v, i]));
      if (feature.kind === 'cross') {
        const activitySides = feature.parts.filter((p) => p.source === 'activity').length;
        if (activitySides === 0) this.shared.push(col);
        else if (activitySides === 2) {
          // Both parts vary per candidate: the joined category is the group's value.
          // JSON, not a join: field names may contain any separator.
          const g = groupFor(`cross:${JSON.stringify(feature.parts.map((p) => p.key))}`, (a, c, u) => categoryFor(feature, a, c, u));
          g.categorical.push({ offset, index: col.index! });
          for (const v of feature.vocab) know(g, v);
        } else {
          const side = feature.parts[0].source === 'activity' ? 0 : 1;
          const activityPart = feature.parts[side] as FittedFeature & { source: 'activity' };
          const read = readerFor(activityPart);
          const g = groupFor(`activity:${activityPart.key}`, (a, c, u) => categoryOf(read(a, c, u)), fieldOf(activityPart.key));
          const bySharedValue = new Map<string, Map<string, number>>();
          feature.vocab.forEach((v, i) => {
            // A value may itself contain the separator: register the entry under every split, so
            // that exactly the (activity, shared) pairs whose joined category is `v` find it.
            for (let at = v.indexOf(SEP); at >= 0; at = v.indexOf(SEP, at + 1)) {
              const [first, second] = [v.slice(0, at), v.slice(at + SEP.length)];
              const [activityValue, sharedValue] = side === 0 ? [first, second] : [second, first];
              let m = bySharedValue.get(sharedValue);
              if (!m) bySharedValue.set(sharedValue, (m = new Map()));
              m.set(activityValue, i);
              know(g, activityValue);
            }
          });
          g.crosses.push({ offset, sharedPart: feature.parts[1 - side] as SidedCross['sharedPart'], bySharedValue });
        }
      } else if (feature.source !== 'activity') this.shared.push(col);
      else if (feature.kind === 'numeric') this.numeric.push({ offset, feature, read: readerFor(feature) });
      else {
        const read = readerFor(feature);
        const g = groupFor(`activity:${feature.key}`, (a, c, u) => categoryOf(read(a, c, u)), fieldOf(feature.key));
        g.categorical.push({ offset, index: col.index! });
        for (const v of feature.vocab) know(g, v);
      }
      offset += featureWidth(feature);
    }
    for (const g of this.groups) {
      if (g.known.size >= CODE_RADIX) throw new Error(`an activity field has ${g.known.size} categories; at most ${CODE_RADIX - 1}`);
    }
    this.radix = this.groups.map((g) => g.known.size + 1);
    for (const g of this.groups) {
      g.stamp = new Int32Array(g.known.size);
      g.code = new Int32Array(g.known.size);
    }
    this.profileOffset = offset;
    this.dimension = offset + (spec.profile ? PROFILE_FEATURES.length : 0);
    const variable = this.numeric.map((c) => c.offset);
    for (let i = this.profileOffset; i < this.dimension; i++) variable.push(i);
    this.variableColumns = Int32Array.from(variable);
    if (this.dimension !== spec.dimension) {
      throw new Error(`feature spec says dimension ${spec.dimension} but its features add up to ${this.dimension}`);
    }
  }

  /** Inputs per candidate in the factored form before signatures and before constant columns are folded away. */
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
   * linear before its activation, so x·W = (shared part)·W + (variable part)·W + Σ one-hots·W:
   * - `shared`: non-zero entries identical for every candidate (context/user fields, and any
   *   variable column that happens to be constant in this batch, e.g. the profile block of a
   *   shopper without history): folded into the bias;
   * - `rows`: per candidate, the variable columns then a one-hot over signatures (the set of
   *   one-hot columns a candidate lights up depends only on its activity fields, so candidates
   *   share a handful of signatures; each becomes one input whose weight is the sum of its columns').
   * Scores are identical to the dense encoding; the per-candidate width drops from `dimension`
   * (hundreds) to `variable columns + signatures` (tens).
   */
  encodeFactored(activities: readonly Activity[], context: FeatureRecord, user: FeatureRecord, profile: ProfileAggregates): FactoredBatch {
    const n = activities.length;
    const template = new Float32Array(this.dimension);
    const first = activities[0] ?? { id: '', type: '' };
    for (const col of this.shared) write(template, 0, col, first, context, user);

    // Per batch, per group: the crosses' indices for this context/user, and a code per value seen.
    const groups = this.groups;
    const G = groups.length;
    const resolved = groups.map((g) =>
      g.crosses.map((x) => {
        const shared = categoryOf(readValue(x.sharedPart, first, context, user));
        return (shared === undefined ? undefined : x.bySharedValue.get(shared)) ?? EMPTY_INDEX;
      }),
    );
    // Code of each known value in this batch, by its number in `known` (-1: not seen yet).
    // Codes given out in this batch, by a value's number in `known`: valid where stamped with this
    // batch's generation (the arrays live on the encoder: no allocation per call, whatever the vocabulary).
    const generation = this.nextGeneration();
    const columnsOf: Int32Array[][] = groups.map(() => [NO_COLUMNS]);
    const codes = new Int32Array(G);
    // Signature of a code tuple: the tuple as one mixed-radix number (radix: known values + 1 per
    // field) indexes a table when the product is small, else a Map; fields with huge vocabularies
    // intern the tuple pairwise instead (the number would not be exact).
    const radix = this.radix;
    const product = radix.reduce((p, r) => p * r, 1);
    const table = product <= SIGNATURE_TABLE_MAX ? new Int32Array(product).fill(-1) : undefined;
    const exact = product <= Number.MAX_SAFE_INTEGER;
    const partial = exact ? [] : Array.from({ length: Math.max(0, G - 1) }, () => new Map<number, number>());
    const signatureIds = new Map<number, number>();
    const signatures: Int32Array[] = [];
    const signatureOf = new Int32Array(n);

    const numeric = this.numeric;
    const v = this.variableColumns.length;
    const variable = new Float32Array(n * v);
    const totals = this.spec.profile ? profileTotals(profile, this.spec.priors) : undefined;
    const typeRows = new Map<string, { terms: ProfileTypeTerms; row: Float32Array }>();
    const attributes = totals ? attributeResiduals(profile, this.spec.priors) : undefined;
    const activityHistory = activityCounts(profile);
    const maybeHistory = new StringPrefilter();
    for (const id of activityHistory.keys()) maybeHistory.add(id);
    const profileAt = numeric.length;
    // Shopper-level profile columns are the same for every candidate: shared from the start.
    if (totals) writeShopperProfile(template, this.profileOffset, totals);
    const shopperColumn = new Uint8Array(v);
    if (totals) for (const c of SHOPPER_PROFILE_COLUMNS) shopperColumn[profileAt + c] = 1;

    for (let r = 0; r < n; r++) {
      const a = activities[r];
      let key = 0;
      for (let g = 0; g < G; g++) {
        const group = groups[g];
        let value: string | undefined;
        if (group.field === FIELD_OTHER) value = group.read(a, context, user);
        else {
          const raw = group.field === FIELD_ID ? a.id : group.field === FIELD_TYPE ? a.type : a.features?.[group.featureName];
          value = typeof raw === 'string' ? (raw === '' ? undefined : raw) : categoryOf(raw);
        }
        let code = 0;
        const known = value === undefined || !group.maybeKnown.has(value) ? undefined : group.known.get(value);
        if (known !== undefined) {
          if (group.stamp[known] === generation) code = group.code[known];
          else {
            code = group.code[known] = this.codeFor(group, resolved[g], value!, columnsOf[g]);
            group.stamp[known] = generation;
          }
        }
        codes[g] = code;
        if (exact) key = key * radix[g] + code;
        else if (g === 0) key = code;
        else {
          const packed = key * CODE_RADIX + code;
          if (g === G - 1) key = packed;
          else {
            let id = partial[g - 1].get(packed);
            if (id === undefined) partial[g - 1].set(packed, (id = partial[g - 1].size));
            key = id;
          }
        }
      }
      let signature = table ? table[key] : signatureIds.get(key);
      if (signature === undefined || signature < 0) {
        signature = signatures.length;
        if (table) table[key] = signature;
        else signatureIds.set(key, signature);
        signatures.push(concatColumns(codes, columnsOf));
      }
      signatureOf[r] = signature;

      const row = r * v;
      for (let k = 0; k < numeric.length; k++) {
        const f = numeric[k].feature;
        const x = numberOf(numeric[k].read(a, context, user));
        variable[row + k] = x === undefined ? 0 : (x - f.mean) / f.std;
      }
      if (totals) {
        let byType = typeRows.get(a.type);
        if (!byType) {
          const terms = profileTypeTerms(totals, profile, a.type, this.spec.priors);
          typeRows.set(a.type, (byType = { terms, row: typeProfileRow(terms) }));
        }
        variable.set(byType.row, row + profileAt);
        const id = typeof a.id === 'string' ? a.id : String(a.id); // Node callers may pass numbers
        const act = activityHistory.size && maybeHistory.has(id) ? activityHistory.get(id) : undefined;
        if (act || attributes) writeActivityProfile(variable, row + profileAt, a, this.spec.priors, byType.terms, act, attributes);
      }
    }

    // Variable columns that are the same for every candidate of this batch go to the shared entries.
    const kept: number[] = [];
    for (let k = 0; k < v; k++) {
      if (shopperColumn[k]) continue;
      const x = variable[k];
      let constant = true;
      for (let r = 1; r < n && constant; r++) constant = variable[r * v + k] === x;
      if (constant && n > 0) template[this.variableColumns[k]] = x;
      else kept.push(k);
    }
    const sharedIndex: number[] = [];
    const sharedValue: number[] = [];
    for (let i = 0; i < template.length; i++) {
      if (template[i] !== 0) {
        sharedIndex.push(i);
        sharedValue.push(template[i]);
      }
    }
    const kv = kept.length;
    const width = kv + signatures.length;
    const rows = new Float32Array(n * width);
    for (let r = 0; r < n; r++) {
      const at = r * width;
      const from = r * v;
      for (let k = 0; k < kv; k++) rows[at + k] = variable[from + kept[k]];
      rows[at + kv + signatureOf[r]] = 1;
    }
    return {
      n,
      width,
      rows,
      variableColumns: Int32Array.from(kept, (k) => this.variableColumns[k]),
      signatures,
      shared: { index: Int32Array.from(sharedIndex), value: Float32Array.from(sharedValue) },
    };
  }

  private generation = 0;

  private nextGeneration(): number {
    if (this.generation === 0x7fffffff) {
      this.generation = 0;
      for (const g of this.groups) g.stamp.fill(0);
    }
    return ++this.generation;
  }

  /** A new code for `value` of `group` in this batch: the dense columns it lights (0 when none). */
  private codeFor(group: ActivityGroup, crosses: Map<string, number>[], value: string, columns: Int32Array[]): number {
    const lit: number[] = [];
    for (const c of group.categorical) {
      const i = c.index.get(value);
      if (i !== undefined) lit.push(c.offset + i);
    }
    group.crosses.forEach((x, j) => {
      const i = crosses[j].get(value);
      if (i !== undefined) lit.push(x.offset + i);
    });
    if (!lit.length) return 0;
    columns.push(Int32Array.from(lit));
    return columns.length - 1;
  }

  encode(activity: Activity, context: FeatureRecord, user: FeatureRecord, profile: ProfileAggregates): Float32Array {
    return this.encodeBatch([activity], context, user, profile);
  }
}

const FIELD_OTHER = 0;
const FIELD_ID = 1;
const FIELD_TYPE = 2;
const FIELD_FEATURE = 3;

/** How an activity field declaration's value is read inline (the same values `readerFor` gives). */
function fieldOf(key: string): [field: number, featureName: string] {
  if (key === 'id') return [FIELD_ID, ''];
  if (key === 'type') return [FIELD_TYPE, ''];
  if (key.startsWith('features.')) return [FIELD_FEATURE, key.slice('features.'.length)];
  return [FIELD_OTHER, ''];
}

function know(group: ActivityGroup, value: string): void {
  if (!group.known.has(value)) group.known.set(value, group.known.size);
  group.maybeKnown.add(value);
}

/**
 * A 4,096-bit filter over (length, first and last character): `has` is false for most strings
 * outside the set after a few instructions, true for every string in it.
 */
export class StringPrefilter {
  private readonly bits = new Uint32Array(128);
  add(s: string): void {
    const h = slot(s);
    this.bits[h >>> 5] |= 1 << (h & 31);
  }
  has(s: string): boolean {
    const h = slot(s);
    return (this.bits[h >>> 5] & (1 << (h & 31))) !== 0;
  }
}

function slot(s: string): number {
  const n = s.length;
  return n === 0 ? 0 : (Math.imul(n, 0x9e3779b1) ^ (s.charCodeAt(0) * 0x85eb) ^ (s.charCodeAt(n - 1) * 0xc2b2ae35)) >>> 20;
}

function concatColumns(codes: Int32Array, columnsOf: Int32Array[][]): Int32Array {
  let length = 0;
  for (let g = 0; g < codes.length; g++) length += columnsOf[g][codes[g]].length;
  const out = new Int32Array(length);
  let at = 0;
  for (let g = 0; g < codes.length; g++) {
    out.set(columnsOf[g][codes[g]], at);
    at += columnsOf[g][codes[g]].length;
  }
  return out;
}

const SEP = '\u241f';

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
