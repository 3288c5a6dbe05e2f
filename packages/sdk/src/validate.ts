import * as v from 'valibot';
import { VitrineError } from './errors';
import { OUTCOMES } from '@vitrine/core/domain';
import { BACKEND_OPTIONS, CONSENTS, STORAGE_OPTIONS, type Activity, type RankOptions, type VitrineOptions } from './types';

/** A picklist whose message names every allowed value: `must be 'a', 'b' or 'c'`. */
function oneOf<const T extends readonly string[]>(values: T) {
  const quoted = values.map((x) => `'${x}'`);
  return v.picklist(values, `must be ${quoted.slice(0, -1).join(', ')} or ${quoted[quoted.length - 1]}`);
}

const Primitive = v.union([v.string(), v.pipe(v.number(), v.finite('must be a finite number')), v.boolean()]);
const Record_ = v.record(v.string(), v.nullish(Primitive));
const TimeValue = v.union([
  v.pipe(
    v.string(),
    v.check((s) => Number.isFinite(Date.parse(s)), 'must be an ISO date'),
  ),
  v.pipe(v.number(), v.finite()),
  v.pipe(
    v.date(),
    v.check((d) => Number.isFinite(d.getTime()), 'must be a valid Date'),
  ),
]);

const ActivitySchema = v.object({
  id: v.pipe(v.string('must be a string'), v.minLength(1, 'must not be empty'), v.maxLength(200, 'is longer than 200 characters')),
  type: v.pipe(v.string('must be a string'), v.minLength(1, 'must not be empty')),
  features: v.optional(v.record(v.string(), Primitive)),
  startsAt: v.optional(TimeValue),
  endsAt: v.optional(TimeValue),
});

export const ActivitiesSchema = v.pipe(
  v.array(ActivitySchema, 'must be an array of activities'),
  v.maxLength(100_000, 'has more than 100000 activities'),
);

const PlainObject = v.custom<Record<string, unknown>>((x) => typeof x === 'object' && x !== null && !Array.isArray(x), 'must be an object');

const RankOptionsSchema = v.optional(
  v.object({
    context: v.optional(Record_),
    slots: v.optional(v.pipe(v.number(), v.integer('must be an integer'), v.minValue(1, 'must be at least 1'))),
    at: v.optional(TimeValue),
    includeFeatures: v.optional(v.boolean()),
    // Checked in full by the rules chunk.
    rules: v.optional(PlainObject),
  }),
);

export const ConsentSchema = oneOf(CONSENTS);

export const MODEL_KEY_SHAPE = 'must be an ECDSA P-256 public key: SPKI as base64 (91 bytes) or a JWK with kty "EC", crv "P-256", x and y';

const OptionsSchema = v.object({
  model: v.pipe(v.string('must be the URL of a model manifest'), v.minLength(1, 'must not be empty')),
  endpoint: v.optional(
    v.pipe(v.string('must be the URL of a Vitrine server (e.g. https://vitrine.example/v1)'), v.minLength(1, 'must not be empty')),
  ),
  consent: v.optional(ConsentSchema),
  backend: v.optional(oneOf(BACKEND_OPTIONS)),
  user: v.optional(Record_),
  onProgress: v.optional(v.function()),
  onError: v.optional(v.function()),
  epsilon: v.optional(v.pipe(v.number(), v.minValue(0, 'must be in [0, 1]'), v.maxValue(1, 'must be in [0, 1]'))),
  wasmPaths: v.optional(v.string()),
  storage: v.optional(oneOf(STORAGE_OPTIONS)),
  privacyFloors: v.optional(
    v.strictObject({
      maxEpsilon: v.optional(v.pipe(v.number(), v.gtValue(0))),
      maxDelta: v.optional(v.pipe(v.number(), v.gtValue(0), v.maxValue(1))),
      minWindowDays: v.optional(v.pipe(v.number(), v.minValue(0))),
      minCohort: v.optional(v.pipe(v.number(), v.minValue(0))),
      minKThreshold: v.optional(v.pipe(v.number(), v.minValue(0))),
    }),
  ),
  random: v.optional(v.function()),
  now: v.optional(v.function()),
  // Its shape is checked by the pinned-key chunk (model/pinned.ts) before createVitrine resolves.
  modelKey: v.optional(
    v.custom<string | JsonWebKey>((k) => typeof k === 'string' || (typeof k === 'object' && k !== null), MODEL_KEY_SHAPE),
  ),
  // Checked in full by the policy stage (a lazy chunk, policy/rules.ts) before createVitrine resolves.
  rules: v.optional(PlainObject),
  segments: v.optional(v.custom<unknown[]>(Array.isArray, 'must be an array')),
  holdout: v.optional(v.custom<false | object>((x) => x === false || (typeof x === 'object' && x !== null), 'must be false or an object')),
});

const TrackSchema = v.object({
  decisionId: v.pipe(v.string('must be a decision id string'), v.minLength(1)),
  activityId: v.pipe(v.string('must be an activity id string'), v.minLength(1)),
  outcome: v.picklist(OUTCOMES, `must be one of ${OUTCOMES.join(', ')}`),
});

function check<T>(schema: v.GenericSchema<unknown, T>, input: unknown, root: string, code: 'invalid_input' | 'invalid_options'): T {
  const result = v.safeParse(schema, input);
  if (result.success) return result.output;
  const issue = result.issues[0];
  const path = (issue.path ?? []).map((p) => (typeof p.key === 'number' ? `[${p.key}]` : `.${String(p.key)}`)).join('');
  const field = `${root}${path}`.replace(/^\./, '');
  const got = issue.input === undefined ? 'undefined' : JSON.stringify(issue.input)?.slice(0, 60);
  throw new VitrineError(code, `${field} ${issue.message.replace(/^Invalid \w+: /, '')} (got ${got})`, { field });
}

export function validateOptions(input: unknown): VitrineOptions {
  if (typeof input !== 'object' || input === null) {
    throw new VitrineError('invalid_options', 'options must be an object with at least { model }', { field: 'options' });
  }
  return check(OptionsSchema, input, 'options', 'invalid_options') as VitrineOptions;
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  if (typeof x !== 'object' || x === null) return false;
  const proto = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}

function isTime(x: unknown): boolean {
  if (typeof x === 'number') return Number.isFinite(x);
  if (typeof x === 'string') return Number.isFinite(Date.parse(x));
  return x instanceof Date && Number.isFinite(x.getTime());
}

function isPrimitiveValue(x: unknown): boolean {
  return typeof x === 'string' || typeof x === 'boolean' || (typeof x === 'number' && Number.isFinite(x));
}

/**
 * The common case checked without copying (rank's hot path): plain objects whose fields all pass
 * ActivitySchema. Stricter than the schema (plain objects only), never looser: a list that fails
 * here goes through valibot, which names the problem or returns a clean copy.
 */
export function isValidActivityList(list: unknown): list is Activity[] {
  if (!Array.isArray(list) || list.length > 100_000) return false;
  for (let i = 0; i < list.length; i++) {
    const a: unknown = list[i];
    if (!isPlainObject(a)) return false;
    const id = a.id;
    const type = a.type;
    if (typeof id !== 'string' || id.length === 0 || id.length > 200) return false;
    if (typeof type !== 'string' || type.length === 0) return false;
    if (a.startsAt !== undefined && !isTime(a.startsAt)) return false;
    if (a.endsAt !== undefined && !isTime(a.endsAt)) return false;
    const features = a.features;
    if (features !== undefined) {
      if (!isPlainObject(features)) return false;
      for (const key in features) if (!isPrimitiveValue(features[key])) return false;
    }
  }
  return true;
}

/**
 * Validates rank's input. Activities that pass the fast check are not copied one by one: rank
 * reads the caller's objects until it resolves; what outlives it is copied (the decision log's
 * placed items, and whatever the signals stage keeps for after the call).
 */
export function validateRank(activities: unknown, options: unknown): { activities: Activity[]; options: RankOptions } {
  // The array is copied (cheap) so that emptying or reusing it while rank awaits changes nothing.
  const list = isValidActivityList(activities)
    ? activities.slice()
    : (check(ActivitiesSchema, activities, 'activities', 'invalid_input') as Activity[]);
  const seen = new Set<string>();
  for (let i = 0; i < list.length; i++) {
    const id = list[i].id;
    // One hash lookup per id: a duplicate leaves the set's size unchanged.
    if (seen.add(id).size === i) {
      throw new VitrineError('invalid_input', `activities[${i}].id "${id}" appears more than once`, { field: `activities[${i}].id` });
    }
  }
  const opts = (check(RankOptionsSchema, options, 'options', 'invalid_input') ?? {}) as RankOptions;
  return { activities: list, options: opts };
}

export function validateTrack(decisionId: unknown, activityId: unknown, outcome: unknown) {
  return check(TrackSchema, { decisionId, activityId, outcome }, '', 'invalid_input');
}

export function validateUser(user: unknown): Record<string, string | number | boolean | null | undefined> {
  return check(Record_, user, 'user', 'invalid_input');
}
