import * as v from 'valibot';

/**
 * The wire format of what leaves a shopper's device, shared by the SDK (which builds it) and
 * the server (which validates it with this very schema): nothing else can be sent or accepted.
 * There is deliberately no field for a user, device or session id, a URL, a user agent, raw
 * features or profile data; unknown keys are rejected, not ignored.
 */
export const SIGNALS_FORMAT = 'vitrine-signals@1';
/** fetch keepalive bodies share a 64 KiB budget per page; stay well inside it. */
export const MAX_BODY_BYTES = 60_000;
export const MAX_EVENTS_PER_BATCH = 64;
/** Longest update vector: 2 × 2,048 numbers stay under the body budget at the 6 significant digits devices send. */
export const MAX_UPDATE_DIMENSION = 2048;
/** Coarse time: events carry the start of their 6-hour UTC window, never a timestamp. */
export const TIME_BUCKET_HOURS = 6;
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

const Id = v.pipe(v.string(), v.regex(ID_PATTERN, 'must be 1-128 characters of A-Z a-z 0-9 . _ : -'));
const Probability = v.pipe(v.number(), v.finite(), v.gtValue(0, 'must be > 0'), v.maxValue(1, 'must be <= 1'));

export const EventSchema = v.strictObject({
  /** Activity id, from the published catalog only. */
  a: Id,
  /** Slot (position) the activity was shown in. */
  s: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(255)),
  /** Logging propensity of showing `a` at `s`. */
  p: Probability,
  /** Reward in [0, 1]. */
  r: v.pipe(v.number(), v.minValue(0, 'must be in [0, 1]'), v.maxValue(1, 'must be in [0, 1]')),
  /** Start of the 6-hour UTC window, hours since the epoch, a multiple of 6. */
  t: v.pipe(
    v.number(),
    v.integer(),
    v.minValue(0),
    v.check((t) => t % TIME_BUCKET_HOURS === 0, 'must be a multiple of 6 (coarse time bucket)'),
  ),
  /** Shadow model's propensity for the same (a, s), when a shadow model was published. */
  q: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(1))),
  /**
   * 1: the page view was in the A/B holdout's control arm. `p` stays the logging policy's
   * propensity over both arms (share × control's + (1 − share) × Vitrine's), as OPE needs.
   */
  c: v.optional(v.literal(1)),
});

/**
 * The device's segment, reported through k-ary randomized response (see @vitrine/core/policy):
 * `i` is an index into the segments of policy version `v` (their count means "none of them"),
 * true with probability e^ε/(e^ε+m), any other with 1/(e^ε+m). Only in batches with an update,
 * whose published privacy cost includes the report's.
 */
export const SegmentReportSchema = v.strictObject({
  v: Id,
  i: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(64)),
});

const UpdateVector = v.pipe(v.array(v.pipe(v.number(), v.finite())), v.minLength(1), v.maxLength(MAX_UPDATE_DIMENSION));
export const UpdateSchema = v.strictObject({
  /** Σ u (p − y) over the batch's events, clipped to L2 <= clipGradient (the residual head's gradient). */
  g: UpdateVector,
  /** Σ p (1 − p) u² over the same events, clipped to L2 <= clipCurvature (the diagonal curvature). */
  h: v.pipe(
    UpdateVector,
    v.check((h) => h.every((x) => x >= 0), 'curvature terms are never negative'),
  ),
  /** Number of examples it averages (bounded by the batch). */
  n: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(MAX_EVENTS_PER_BATCH)),
});

export const BatchSchema = v.strictObject({
  format: v.literal(SIGNALS_FORMAT),
  /** Random per batch (not per shopper): lets the server drop a batch sent twice. */
  id: v.pipe(v.string(), v.regex(/^[0-9a-f]{32}$/, 'must be 32 lowercase hex characters (a random batch id)')),
  /** Model version that ranked these events (and that the update is a gradient of). */
  model: Id,
  /** Shadow model version the `q` terms refer to. */
  shadow: v.optional(Id),
  events: v.pipe(v.array(EventSchema), v.maxLength(MAX_EVENTS_PER_BATCH)),
  update: v.optional(UpdateSchema),
  seg: v.optional(SegmentReportSchema),
});

/** A batch exactly as it travels: compact field names, validated by BatchSchema. */
export type WireEvent = v.InferOutput<typeof EventSchema>;
export type WireBatch = v.InferOutput<typeof BatchSchema>;

/** One placed activity and what the shopper did with it, as code outside the wire sees it. */
export interface SignalEvent {
  activityId: string;
  slot: number;
  /** Logging propensity of showing the activity at this slot. */
  propensity: number;
  reward: number;
  /** Start of the 6-hour UTC window, in hours since the epoch. */
  timeBucket: number;
  /** The shadow model's propensity for the same placement, when a shadow was published. */
  shadowPropensity?: number;
  /** The page view was in the holdout's control arm. */
  control?: true;
}

export interface ModelUpdate {
  /** Clipped gradient sum of the residual head's log loss over the batch's events. */
  gradient: number[];
  /** Clipped diagonal curvature of the same loss. */
  curvature: number[];
  /** Examples it averages. */
  examples: number;
}

export interface SignalBatch {
  format: typeof SIGNALS_FORMAT;
  id: string;
  model: string;
  shadow?: string;
  events: SignalEvent[];
  update?: ModelUpdate;
  /** The randomized-response segment report (policy version, reported index). */
  segment?: { policy: string; index: number };
}

/** The one place named fields meet their compact wire names. */
export const EVENT_WIRE_NAMES = {
  activityId: 'a',
  slot: 's',
  propensity: 'p',
  reward: 'r',
  timeBucket: 't',
  shadowPropensity: 'q',
  control: 'c',
} as const satisfies Record<keyof SignalEvent, keyof WireEvent>;
export const UPDATE_WIRE_NAMES = { gradient: 'g', curvature: 'h', examples: 'n' } as const satisfies Record<
  keyof ModelUpdate,
  keyof NonNullable<WireBatch['update']>
>;

/** What one batch may hold, field by field (shown to the shopper in the privacy report). */
export const BATCH_FIELD_DESCRIPTIONS: readonly string[] = [
  'format',
  'id (random per batch)',
  'model',
  'shadow',
  `events[].${EVENT_WIRE_NAMES.activityId} activity`,
  `events[].${EVENT_WIRE_NAMES.slot} slot`,
  `events[].${EVENT_WIRE_NAMES.propensity} propensity`,
  `events[].${EVENT_WIRE_NAMES.reward} reward 0..1`,
  `events[].${EVENT_WIRE_NAMES.timeBucket} 6-hour bucket`,
  `events[].${EVENT_WIRE_NAMES.shadowPropensity} shadow propensity`,
  `events[].${EVENT_WIRE_NAMES.control} holdout control arm`,
  `update.${UPDATE_WIRE_NAMES.gradient} clipped gradient sum`,
  `update.${UPDATE_WIRE_NAMES.curvature} clipped curvature sum`,
  `update.${UPDATE_WIRE_NAMES.examples} examples`,
  'seg segment, randomized response (only with an update)',
];

export function eventToWire(e: SignalEvent): WireEvent {
  const wire: WireEvent = { a: e.activityId, s: e.slot, p: e.propensity, r: e.reward, t: e.timeBucket };
  if (e.shadowPropensity !== undefined) wire.q = e.shadowPropensity;
  if (e.control) wire.c = 1;
  return wire;
}

export function eventFromWire(w: WireEvent): SignalEvent {
  const e: SignalEvent = { activityId: w.a, slot: w.s, propensity: w.p, reward: w.r, timeBucket: w.t };
  if (w.q !== undefined) e.shadowPropensity = w.q;
  if (w.c === 1) e.control = true;
  return e;
}

export function batchToWire(b: SignalBatch): WireBatch {
  return {
    format: b.format,
    id: b.id,
    model: b.model,
    ...(b.shadow !== undefined ? { shadow: b.shadow } : {}),
    events: b.events.map(eventToWire),
    ...(b.update ? { update: { g: b.update.gradient, h: b.update.curvature, n: b.update.examples } } : {}),
    ...(b.segment ? { seg: { v: b.segment.policy, i: b.segment.index } } : {}),
  };
}

export function batchFromWire(w: WireBatch): SignalBatch {
  const b: SignalBatch = { format: w.format, id: w.id, model: w.model, events: w.events.map(eventFromWire) };
  if (w.shadow !== undefined) b.shadow = w.shadow;
  if (w.update) b.update = { gradient: w.update.g, curvature: w.update.h, examples: w.update.n };
  if (w.seg) b.segment = { policy: w.seg.v, index: w.seg.i };
  return b;
}

export class SignalFormatError extends Error {
  constructor(
    message: string,
    readonly field: string,
  ) {
    super(message);
    this.name = 'SignalFormatError';
  }
}

/** Validates a batch; throws SignalFormatError naming the first bad wire field (e.g. `events.3.r`). */
export function parseBatch(json: unknown): SignalBatch {
  return batchFromWire(parseWireBatch(json));
}

/** The same checks, returning the batch as it travels (what the server stores). */
export function parseWireBatch(json: unknown): WireBatch {
  const result = v.safeParse(BatchSchema, json);
  if (!result.success) {
    const issue = result.issues[0];
    const field = v.getDotPath(issue) ?? '(body)';
    throw new SignalFormatError(`${field}: ${issue.message}`, field);
  }
  if (result.output.events.length === 0) throw new SignalFormatError('events: a batch needs at least one event', 'events');
  if (result.output.update && result.output.update.g.length !== result.output.update.h.length)
    throw new SignalFormatError('update.h: must have as many numbers as update.g', 'update.h');
  if (result.output.update && result.output.update.n > result.output.events.length)
    throw new SignalFormatError('update.n: more examples than the batch has events', 'update.n');
  if (result.output.events.some((e) => e.q !== undefined) && !result.output.shadow)
    throw new SignalFormatError('shadow: events carry q terms but no shadow version', 'shadow');
  if (result.output.seg && !result.output.update) throw new SignalFormatError('seg: a segment report rides only with an update', 'seg');
  return result.output;
}

export function timeBucket(epochMs: number): number {
  const hours = Math.floor(epochMs / 3_600_000);
  return hours - (hours % TIME_BUCKET_HOURS);
}
