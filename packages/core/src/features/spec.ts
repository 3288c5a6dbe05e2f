import { PROFILE_FEATURES } from './profile-block';

/**
 * The feature specification travels inside every model manifest: the training pipeline
 * fits it (vocabularies, means) and the browser uses exactly that spec to encode inputs.
 */
export type FeatureSource = 'context' | 'user' | 'activity';

export interface FeatureDeclaration {
  source: FeatureSource;
  /** For `activity`: `id`, `type` or `features.<name>`; otherwise the record key. */
  key: string;
  kind: 'categorical' | 'numeric';
}

export interface CategoricalFeature extends FeatureDeclaration {
  kind: 'categorical';
  vocab: string[];
}

export interface NumericFeature extends FeatureDeclaration {
  kind: 'numeric';
  mean: number;
  std: number;
}

/** One-hot of the pair of two categorical values (e.g. offer type x shopper habit). */
export interface CrossFeature {
  kind: 'cross';
  source: 'cross';
  key: string;
  parts: [FeatureDeclaration, FeatureDeclaration];
  vocab: string[];
}

export interface CrossDeclaration {
  kind: 'cross';
  parts: [FeatureDeclaration, FeatureDeclaration];
}

export type FittedFeature = CategoricalFeature | NumericFeature | CrossFeature;

/**
 * Population acceptance rates fitted with the model: the profile block compares what this
 * shopper did with what people usually do for the same offers (positive = accepts more).
 */
export interface Priors {
  global: number;
  byType: Record<string, number>;
  byActivity: Record<string, number>;
  /** Keyed `name=value` over activity attributes (string `features`). */
  byAttribute: Record<string, number>;
}

export interface FeatureSpec {
  /** Bumped whenever encoding semantics change; models name the version they were trained with. */
  format: typeof FEATURE_FORMAT;
  name: string;
  features: FittedFeature[];
  /** Whether the profile block (see PROFILE_FEATURES) is appended. */
  profile: boolean;
  priors: Priors;
  dimension: number;
}

export const FEATURE_FORMAT = 'vitrine-features@3' as const;

export { PROFILE_FEATURES, type ProfileFeatureName } from './profile-block';

export function featureWidth(f: FittedFeature): number {
  return f.kind === 'numeric' ? 1 : f.vocab.length;
}

export function crossKey(parts: [FeatureDeclaration, FeatureDeclaration]): string {
  return parts.map((p) => `${p.source}.${p.key}`).join('*');
}

export function specDimension(features: FittedFeature[], profile: boolean): number {
  return features.reduce((n, f) => n + featureWidth(f), 0) + (profile ? PROFILE_FEATURES.length : 0);
}

/** Column names of the encoded vector, for explanations and debugging. */
export function columnNames(spec: FeatureSpec): string[] {
  const names: string[] = [];
  for (const f of spec.features) {
    if (f.kind === 'numeric') names.push(`${f.source}.${f.key}`);
    else for (const v of f.vocab) names.push(`${f.source}.${f.key}=${v}`);
  }
  if (spec.profile) names.push(...PROFILE_FEATURES);
  return names;
}
