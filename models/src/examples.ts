import {
  FeatureEncoder,
  activityAttributes,
  applyEvent,
  emptyAggregates,
  type FeatureSpec,
  type ProfileAggregates,
} from '@vitrine/core/features';
import type { CouponRow } from './datasets/coupons';

export interface Examples {
  x: Float32Array;
  y: Float32Array;
  n: number;
  d: number;
  /** Number of earlier answers by the same respondent, per row. */
  history: Int32Array;
}

/**
 * Encodes rows with the SDK's feature encoder, replaying each respondent's answers in file
 * order through the SDK's profile aggregation: a row only ever sees earlier outcomes.
 */
export function buildExamples(rows: CouponRow[], spec: FeatureSpec): Examples {
  const encoder = new FeatureEncoder(spec);
  const d = encoder.dimension;
  const x = new Float32Array(rows.length * d);
  const y = new Float32Array(rows.length);
  const history = new Int32Array(rows.length);
  const profiles = new Map<string, { agg: ProfileAggregates; count: number }>();
  rows.forEach((row, i) => {
    const p = profiles.get(row.respondent) ?? { agg: emptyAggregates(), count: 0 };
    x.set(encoder.encode(row.activity, row.context, row.user, p.agg), i * d);
    y[i] = row.label;
    history[i] = p.count;
    p.agg = applyEvent(p.agg, {
      activityId: row.activity.id,
      activityType: row.activity.type,
      outcome: row.outcome,
      hour: 0,
      attributes: activityAttributes(row.activity.features),
    });
    p.count += 1;
    profiles.set(row.respondent, p);
  });
  return { x, y, n: rows.length, d, history };
}

/** K folds of respondents (never of rows), assigned by a seeded shuffle of respondent ids. */
export function respondentFolds(rows: CouponRow[], k: number, random: () => number): number[] {
  const ids = [...new Set(rows.map((r) => r.respondent))];
  for (let i = ids.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [ids[i], ids[j]] = [ids[j], ids[i]];
  }
  const fold = new Map(ids.map((id, i) => [id, i % k]));
  return rows.map((r) => fold.get(r.respondent)!);
}
