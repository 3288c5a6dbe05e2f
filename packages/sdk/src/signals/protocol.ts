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
export const MAX_UPDATE_DIMENSION = 1024;
/** Coarse time: events carry the start of their 6-hour UTC window, never a timestamp. */
export const TIME_BUCKET_HOURS = 6;
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/** Bounded rewards: what each tracked outcome is worth, in [0, 1]. */
export const REWARDS = { view: 0, dismiss: 0, click: 1, add_to_cart: 1, purchase: 1 } as const;

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
  t: v.pipe(v.number(), v.integer(), v.minValue(0), v.check((t) => t % TIME_BUCKET_HOURS === 0, 'must be a multiple of 6 (coarse time bucket)')),
  /** Shadow model's propensity for the same (a, s), when a shadow model was published. */
  q: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(1))),
});

export const UpdateSchema = v.strictObject({
  /** Clipped (L2 <= clipNorm) and noised gradient over the published trainable tensors. */
  g: v.pipe(v.array(v.pipe(v.number(), v.finite())), v.minLength(1), v.maxLength(MAX_UPDATE_DIMENSION)),
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
});

export type SignalEvent = v.InferOutput<typeof EventSchema>;
export type SignalBatch = v.InferOutput<typeof BatchSchema>;

export class SignalFormatError extends Error {
  constructor(message: string, readonly field: string) {
    super(message);
    this.name = 'SignalFormatError';
  }
}

/** Validates a batch; throws SignalFormatError naming the first bad field (e.g. `events.3.r`). */
export function parseBatch(json: unknown): SignalBatch {
  const result = v.safeParse(BatchSchema, json);
  if (!result.success) {
    const issue = result.issues[0];
    const field = v.getDotPath(issue) ?? '(body)';
    throw new SignalFormatError(`${field}: ${issue.message}`, field);
  }
  if (result.output.events.length === 0) throw new SignalFormatError('events: a batch needs at least one event', 'events');
  if (result.output.update && result.output.update.n > result.output.events.length) throw new SignalFormatError('update.n: more examples than the batch has events', 'update.n');
  if (result.output.events.some((e) => e.q !== undefined) && !result.output.shadow) throw new SignalFormatError('shadow: events carry q terms but no shadow version', 'shadow');
  return result.output;
}

export function timeBucket(epochMs: number): number {
  const hours = Math.floor(epochMs / 3_600_000);
  return hours - (hours % TIME_BUCKET_HOURS);
}

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
