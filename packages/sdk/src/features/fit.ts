import type { Activity, FeatureRecord } from '../types';
import { FEATURE_FORMAT, specDimension, type FeatureDeclaration, type FeatureSpec, type FittedFeature } from './spec';
import { categoryOf, numberOf, readValue } from './values';

export interface FitExample {
  activity: Activity;
  context: FeatureRecord;
  user: FeatureRecord;
}

/** Fits vocabularies (values seen at least `minCount` times, sorted) and standardisation. */
export function fitFeatureSpec(
  name: string,
  declarations: FeatureDeclaration[],
  examples: FitExample[],
  options: { profile?: boolean; minCount?: number } = {},
): FeatureSpec {
  const minCount = options.minCount ?? 1;
  const features: FittedFeature[] = declarations.map((decl) => {
    if (decl.kind === 'categorical') {
      const counts = new Map<string, number>();
      for (const ex of examples) {
        const c = categoryOf(readValue(decl, ex.activity, ex.context, ex.user));
        if (c !== undefined) counts.set(c, (counts.get(c) ?? 0) + 1);
      }
      const vocab = [...counts].filter(([, n]) => n >= minCount).map(([v]) => v).sort();
      return { ...decl, kind: 'categorical', vocab };
    }
    const xs = examples.map((ex) => numberOf(readValue(decl, ex.activity, ex.context, ex.user))).filter((x): x is number => x !== undefined);
    const mean = xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0;
    const variance = xs.length ? xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length : 0;
    return { ...decl, kind: 'numeric', mean, std: Math.sqrt(variance) || 1 };
  });
  const profile = options.profile ?? true;
  return { format: FEATURE_FORMAT, name, features, profile, dimension: specDimension(features, profile) };
}
