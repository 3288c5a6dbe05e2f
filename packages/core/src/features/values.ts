import type { Activity, FeatureRecord, FeatureValue } from '../domain/activity';
import type { FeatureDeclaration, FittedFeature } from './spec';

type Reader = (activity: Activity, context: FeatureRecord, user: FeatureRecord) => FeatureValue | null | undefined;
const readers = new WeakMap<FeatureDeclaration, Reader>();

/** A reader for the declaration, resolved once (this sits on the per-candidate hot path). */
export function readerFor(decl: FeatureDeclaration): Reader {
  let r = readers.get(decl);
  if (r) return r;
  const key = decl.key;
  if (decl.source === 'context') r = (_a, c) => c[key];
  else if (decl.source === 'user') r = (_a, _c, u) => u[key];
  else if (key === 'id') r = (a) => a.id;
  else if (key === 'type') r = (a) => a.type;
  else if (key.startsWith('features.')) {
    const name = key.slice('features.'.length);
    r = (a) => a.features?.[name];
  } else r = () => undefined;
  readers.set(decl, r);
  return r;
}

/** Reads the raw value a declaration refers to; undefined when absent. */
export function readValue(
  decl: FeatureDeclaration,
  activity: Activity,
  context: FeatureRecord,
  user: FeatureRecord,
): FeatureValue | null | undefined {
  return readerFor(decl)(activity, context, user);
}

/** Canonical category string: `1`, `true` and `'1'` are distinct only by their text. */
export function categoryOf(v: FeatureValue | null | undefined): string | undefined {
  if (typeof v === 'string') return v === '' ? undefined : v;
  if (v === null || v === undefined) return undefined;
  return String(v);
}

export function numberOf(v: FeatureValue | null | undefined): number | undefined {
  if (v === null || v === undefined || v === '') return undefined;
  const n = typeof v === 'boolean' ? (v ? 1 : 0) : Number(v);
  return Number.isFinite(n) ? n : undefined;
}

/** Category of a categorical or cross feature (cross: both parts joined by U+241F), or undefined. */
export function categoryFor(
  f: FittedFeature | FeatureDeclaration,
  activity: Activity,
  context: FeatureRecord,
  user: FeatureRecord,
): string | undefined {
  if (f.kind === 'cross') {
    const a = categoryOf(readValue(f.parts[0], activity, context, user));
    const b = categoryOf(readValue(f.parts[1], activity, context, user));
    return a === undefined || b === undefined ? undefined : `${a}\u241f${b}`;
  }
  return categoryOf(readValue(f as FeatureDeclaration, activity, context, user));
}
