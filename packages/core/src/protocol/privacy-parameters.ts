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
    /** What the vectors are: `residual-logistic-head@1` (see @vitrine/core/privacy). */
    method: v.string(),
    dimension: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(MAX_UPDATE_DIMENSION)),
    /** L2 bound of one device's gradient sum per contribution (fixed from seed data). */
    clipGradient: Positive,
    /** L2 bound of one device's curvature sum per contribution. */
    clipCurvature: Positive,
    /** Central noise std on the round's gradient sum is noiseMultiplierGradient × clipGradient. */
    noiseMultiplierGradient: Positive,
    noiseMultiplierCurvature: Positive,
    /** Privacy cost of one contribution, ρ = μ²/2 of the two Gaussian releases together. */
    rhoPerContribution: Positive,
    /** A device contributes at most once per this many hours. */
    minHoursBetween: v.pipe(v.number(), v.minValue(0)),
    /**
     * With merchant segments: the ε of the randomized-response segment report a contribution
     * carries. Its cost ε²/2 (pure ε-DP implies that zCDP) is included in rhoPerContribution.
     */
    segmentEpsilon: v.optional(Positive),
  }),
  aggregation: v.object({
    minCohort: v.number(),
    kThreshold: v.number(),
    /** Updates from one network (IPv4 /24, IPv6 /48) are averaged into one: no network counts more than one shopper. */
    perNetwork: v.literal('mean'),
  }),
  /** What a shop of this size can expect: the simulation's share of the central gain at the observed contributors. */
  expectations: v.nullable(v.object({ contributorsPerWindow: v.number(), shareOfCentralGain: v.number(), source: v.string() })),
  currentModel: v.string(),
  shadowModel: v.nullable(v.string()),
});
export type PrivacyParameters = v.InferOutput<typeof PrivacySchema>;
