import type { Activity, FeatureRecord, FeatureValue } from '../types';
import type { FeatureDeclaration, FittedFeature } from './spec';

/** Reads the raw value a declaration refers to; undefined when absent. */
export function readValue(
  decl: FeatureDeclaration,
  activity: Activity,
  context: FeatureRecord,
  user: FeatureRecord,
): FeatureValue | null | undefined {
  if (decl.source === 'context') return context[decl.key];
  if (decl.source === 'user') return user[decl.key];
  if (decl.key === 'id') return activity.id;
  if (decl.key === 'type') return activity.type;
  if (decl.key.startsWith('features.')) return activity.features?.[decl.key.slice('features.'.length)];
  return undefined;
}

/** Canonical category string: `1`, `true` and `'1'` are distinct only by their text. */
export function categoryOf(v: FeatureValue | null | undefined): string | undefined {
  if (v === null || v === undefined || v === '') return undefined;
  return String(v);
}

export function numberOf(v: FeatureValue | null | undefined): number | undefined {
  if (v === null || v === undefined || v === '') return undefined;
  const n = typeof v === 'boolean' ? (v ? 1 : 0) : Number(v);
  return Number.isFinite(n) ? n : undefined;
}

/** Category of a categorical or cross feature (cross: both parts joined by U+241F), or undefined. */
export function categoryFor(f: FittedFeature | FeatureDeclaration, activity: Activity, context: FeatureRecord, user: FeatureRecord): string | undefined {
  if (f.kind === 'cross') {
    const a = categoryOf(readValue(f.parts[0], activity, context, user));
    const b = categoryOf(readValue(f.parts[1], activity, context, user));
    return a === undefined || b === undefined ? undefined : `${a}\u241f${b}`;
  }
  return categoryOf(readValue(f as FeatureDeclaration, activity, context, user));
}
