import * as v from 'valibot';
import { MAX_UPDATE_DIMENSION } from './signals';

/**
 * Privacy parameters the server publishes at GET /v1/privacy. The device checks them before
 * contributing and accounts its own spend with them.
 */
export const PRIVACY_FORMAT = 'vitrine-privacy@1';
const Positive = v.pipe(v.number(), v.finite(), v.gtValue(0));
export const PrivacySchema = v.object({
  format: v.literal(PRIVACY_FORMAT),
  budget: v.object({ epsilon: Positive, delta: v.pipe(Positive, v.maxValue(1e-3)), windowDays: Positive }),
  update: v.object({
    model: v.string(),
    tensors: v.array(v.string()),
    dimension: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(MAX_UPDATE_DIMENSION)),
    clipNorm: Positive,
    /** Central Gaussian noise std is noiseMultiplier x the round's L2 sensitivity. */
    noiseMultiplier: Positive,
    /** Std of the Gaussian noise each device adds to its own clipped update. */
    localNoiseStd: v.pipe(v.number(), v.minValue(0)),
    /** zCDP cost of one contribution: 1 / (2 noiseMultiplier^2). */
    rhoPerContribution: Positive,
    /** A device contributes at most once per this many hours (one round). */
    minHoursBetween: v.pipe(v.number(), v.minValue(0)),
  }),
  aggregation: v.object({ minCohort: v.number(), trim: v.number(), kThreshold: v.number() }),
  currentModel: v.string(),
  shadowModel: v.nullable(v.string()),
});
export type PrivacyParameters = v.InferOutput<typeof PrivacySchema>;
