import { activityAttributes } from './profile-aggregates';
import type { Activity, FeatureRecord } from '../domain/activity';
import {
  FEATURE_FORMAT,
  crossKey,
  specDimension,
  type CrossDeclaration,
  type FeatureDeclaration,
  type FeatureSpec,
  type FittedFeature,
  type Priors,
} from './spec';
import { categoryFor, numberOf, readValue } from './values';

export interface FitExample {
  activity: Activity;
  context: FeatureRecord;
  user: FeatureRecord;
  /** 1 positive, 0 negative; needed to fit the priors. */
  label?: number;
}

/** Shrinkage of per-offer base rates towards the global rate (pseudo-observations). */
const PRIOR_STRENGTH = 10;

/**
 * Fits vocabularies (values seen at least `minCount` times, sorted), standardisation and the
 * population priors. Only training rows may be passed here: nothing about evaluation rows leaks.
 */
export function fitFeatureSpec(
  name: string,
  declarations: (FeatureDeclaration | CrossDeclaration)[],
  examples: FitExample[],
  options: { profile?: boolean; minCount?: number } = {},
): FeatureSpec {
  const minCount = options.minCount ?? 1;
  const features: FittedFeature[] = declarations.map((decl): FittedFeature => {
    if (decl.kind === 'numeric') {
      const xs = examples
        .map((ex) => numberOf(readValue(decl, ex.activity, ex.context, ex.user)))
        .filter((x): x is number => x !== undefined);
      const mean = xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0;
      const variance = xs.length ? xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length : 0;
      return { ...decl, kind: 'numeric', mean, std: Math.sqrt(variance) || 1 };
    }
    const base: FittedFeature =
      decl.kind === 'cross'
        ? { kind: 'cross', source: 'cross', key: crossKey(decl.parts), parts: decl.parts, vocab: [] }
        : { ...decl, kind: 'categorical', vocab: [] };
    const counts = new Map<string, number>();
    for (const ex of examples) {
      const c = categoryFor(base, ex.activity, ex.context, ex.user);
      if (c !== undefined) counts.set(c, (counts.get(c) ?? 0) + 1);
    }
    base.vocab = [...counts]
      .filter(([, n]) => n >= minCount)
      .map(([v]) => v)
      .sort();
    return base;
  });
  const profile = options.profile ?? true;
  return { format: FEATURE_FORMAT, name, features, profile, priors: fitPriors(examples), dimension: specDimension(features, profile) };
}

function fitPriors(examples: FitExample[]): Priors {
  const labelled = examples.filter((e) => e.label === 0 || e.label === 1);
  const global = labelled.length ? labelled.reduce((s, e) => s + e.label!, 0) / labelled.length : 0.5;
  const rates = (keys: (e: FitExample) => string[]) => {
    const acc = new Map<string, [number, number]>();
    for (const e of labelled) {
      for (const k of keys(e)) {
        const [p, n] = acc.get(k) ?? [0, 0];
        acc.set(k, [p + e.label!, n + 1]);
      }
    }
    return Object.fromEntries(
      [...acc]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, [p, n]]) => [k, round((p + PRIOR_STRENGTH * global) / (n + PRIOR_STRENGTH))]),
    );
  };
  return {
    global: round(global),
    byType: rates((e) => [e.activity.type]),
    byActivity: rates((e) => [e.activity.id]),
    byAttribute: rates((e) => Object.entries(activityAttributes(e.activity.features) ?? {}).map(([k, v]) => `${k}=${v}`)),
  };
}

/** Priors are stored in JSON; rounding keeps manifests readable and identical across runs. */
function round(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}
