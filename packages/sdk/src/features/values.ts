import type { Activity, FeatureRecord, FeatureValue } from '../types';
import type { FeatureDeclaration } from './spec';

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
