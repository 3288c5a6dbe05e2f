import * as v from 'valibot';
import { OUTCOMES } from '../domain/outcomes';
import { ID_PATTERN } from '../protocol/signals';
import type { Condition, Match, PolicyDocument, Rules, Segment } from './types';

export type { Condition, Match, PolicyDocument, Rules, Segment };

/**
 * The merchant's rules and segments, as a shop passes them to the SDK (`createVitrine({ rules })`,
 * `rank(…, { rules })`) and as the server publishes them at GET /v1/policy (with the pacing
 * multipliers it computes). One schema for both sides: what the admin endpoint accepts is what
 * every device can apply.
 */
export { POLICY_FORMAT } from './types';
import { POLICY_FORMAT } from './types';
/** Rules and segments per list: a page evaluates them on every rank. */
export const MAX_RULES = 64;
export const MAX_SEGMENTS = 32;
const MAX_CONDITION_DEPTH = 4;

const Id = v.pipe(v.string(), v.regex(ID_PATTERN, 'must be 1-128 characters of A-Z a-z 0-9 . _ : -'));
const Text = v.pipe(v.string(), v.minLength(1), v.maxLength(128));
const OneOrMany = <T extends v.GenericSchema>(s: T) => v.union([s, v.pipe(v.array(s), v.minLength(1), v.maxLength(MAX_RULES))]);
const Count = (max: number) => v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(max));
const Share = v.pipe(v.number(), v.finite(), v.minValue(0), v.maxValue(1));

/** Which activities a rule is about: every given field must match (an empty match matches all). */
export const MatchSchema = v.strictObject({
  activity: v.optional(OneOrMany(Id)),
  type: v.optional(OneOrMany(Text)),
  /** Only for shoppers in this segment (computed on the device; see SegmentSchema). */
  segment: v.optional(Id),
});

const rules = <T extends v.GenericSchema>(s: T) => v.optional(v.pipe(v.array(s), v.maxLength(MAX_RULES)));

export const RulesSchema = v.strictObject({
  /** Never shown (to the segment, when the match names one). */
  exclude: rules(MatchSchema),
  /** Shown only to shoppers in one of these segments ("show the bundle to coffee lovers"). */
  target: rules(v.strictObject({ activity: OneOrMany(Id), segments: v.pipe(v.array(Id), v.minLength(1), v.maxLength(MAX_SEGMENTS)) })),
  /** Frequency caps per shopper, counted on the device from the profile: at most `maxViews` views in `perHours`. */
  caps: rules(
    v.strictObject({
      match: MatchSchema,
      maxViews: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(10_000)),
      perHours: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(24 * 365)),
    }),
  ),
  /**
   * Outcomes after which an activity is not shown to the shopper again (default ['purchase']: a
   * redeemed coupon is not offered twice); [] turns it off.
   */
  hideAfter: v.optional(v.pipe(v.array(v.picklist(OUTCOMES)), v.maxLength(OUTCOMES.length))),
  /**
   * Budgets per activity across the shop, per UTC day. The server turns them into pacing
   * multipliers from k-anonymous counts; a device needs only the multipliers.
   */
  pacing: rules(
    v.strictObject({
      activity: Id,
      metric: v.picklist(['impressions', 'redemptions']),
      perDay: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(1e9)),
    }),
  ),
  /** Score changes before the slate is chosen: score × multiply + add (scores are probabilities). */
  boost: rules(
    v.strictObject({
      match: MatchSchema,
      multiply: v.optional(v.pipe(v.number(), v.finite(), v.minValue(0), v.maxValue(100))),
      add: v.optional(v.pipe(v.number(), v.finite(), v.minValue(-1), v.maxValue(1))),
    }),
  ),
  /** Placed at this slot (0 first) whenever eligible, with propensity 1; exploration fills the other slots. */
  pin: rules(v.strictObject({ activity: Id, position: Count(255), segment: v.optional(Id) })),
  diversity: v.optional(
    v.strictObject({
      /** At most this many activities of one type per slate: only each type's best `maxPerType` compete. */
      maxPerType: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(255))),
      /**
       * Maximal marginal relevance: each next slot takes the activity with the best
       * λ·score − (1 − λ)·(its largest similarity to one already placed). 1 (default) is pure relevance.
       */
      lambda: v.optional(Share),
    }),
  ),
});

const Scalar = v.union([v.pipe(v.string(), v.maxLength(128)), v.pipe(v.number(), v.finite()), v.boolean()]);
const Attr = v.pipe(v.string(), v.minLength(1), v.maxLength(128));

function conditionSchema(depth: number): v.GenericSchema<Condition> {
  const leaves = [
    v.strictObject({
      history: v.strictObject({
        type: v.optional(Attr),
        attribute: v.optional(v.pipe(Attr, v.includes('=', 'must be name=value'))),
        minAnswers: v.optional(Count(1e6)),
        maxAnswers: v.optional(Count(1e6)),
        minAcceptance: v.optional(Share),
      }),
    }),
    v.strictObject({ inactiveDays: v.pipe(v.number(), v.finite(), v.gtValue(0), v.maxValue(3650)) }),
    v.strictObject({
      attribute: v.strictObject({
        key: Attr,
        in: v.optional(v.pipe(v.array(Scalar), v.minLength(1), v.maxLength(64))),
        min: v.optional(v.pipe(v.number(), v.finite())),
        max: v.optional(v.pipe(v.number(), v.finite())),
      }),
    }),
  ];
  if (depth >= MAX_CONDITION_DEPTH) return v.union(leaves) as unknown as v.GenericSchema<Condition>;
  const inner = v.lazy(() => conditionSchema(depth + 1));
  return v.union([
    ...leaves,
    v.strictObject({ all: v.pipe(v.array(inner), v.minLength(1), v.maxLength(16)) }),
    v.strictObject({ any: v.pipe(v.array(inner), v.minLength(1), v.maxLength(16)) }),
    v.strictObject({ not: inner }),
  ]) as unknown as v.GenericSchema<Condition>;
}
export const ConditionSchema = conditionSchema(0);

/** A merchant-defined group of shoppers; membership is computed on the device and never sent as such. */
export const SegmentSchema = v.strictObject({ id: Id, name: Text, when: ConditionSchema });
export const SegmentsSchema = v.pipe(
  v.array(SegmentSchema),
  v.maxLength(MAX_SEGMENTS),
  v.check((list) => new Set(list.map((s) => s.id)).size === list.length, 'segment ids must be unique'),
);

/** What the server publishes at GET /v1/policy. */
export const PolicyDocumentSchema = v.strictObject({
  format: v.literal(POLICY_FORMAT),
  /** Changes whenever rules, segments or multipliers change; segment reports name it. */
  version: Id,
  rules: RulesSchema,
  segments: SegmentsSchema,
  /** Probability that a page view may show the activity (1 when absent): the server's pacing. */
  pacing: v.pipe(
    v.record(Id, Share),
    v.check((r) => Object.keys(r).length <= 4 * MAX_RULES, 'too many multipliers'),
  ),
  /** When the multipliers were computed (epoch ms). */
  issuedAt: v.pipe(v.number(), v.integer(), v.minValue(0)),
});

// The hand-written types above are what the schemas produce (declaration bundlers choke on valibot's inferred types).
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
export const SCHEMAS_MATCH_TYPES: [
  Same<v.InferOutput<typeof MatchSchema>, Match>,
  Same<v.InferOutput<typeof RulesSchema>, Rules>,
  Same<v.InferOutput<typeof SegmentSchema>, Segment>,
  Same<v.InferOutput<typeof PolicyDocumentSchema>, PolicyDocument>,
] = [true, true, true, true];
