/** The bare forward pass rank() would run (benchmarks; see VitrineInternals.onForwardPass). */
import type { FeatureEncoder, ProfileAggregates } from '@vitrine/core/features';
import { VitrineError } from '../errors';
import type { Activity, FeatureRecord, RankOptions } from '../types';
import { validateRank } from '../validate';
import type { Scorer } from './scorer';

export interface ForwardPassHost {
  readonly scorer: Scorer | null;
  readonly encoder: FeatureEncoder | null;
  readonly profile: ProfileAggregates;
  personalUser(): FeatureRecord;
}

export function prepareForwardPass(host: ForwardPassHost, activities: Activity[], options?: RankOptions): () => Promise<Float32Array> {
  const { activities: list, options: opts } = validateRank(activities, options);
  const { scorer, encoder } = host;
  if (!scorer?.prepareForwardPass || !encoder) throw new VitrineError('model_unavailable', 'no model is ranking yet');
  return scorer.prepareForwardPass(encoder.encodeFactored(list, opts.context ?? {}, host.personalUser(), host.profile));
}
