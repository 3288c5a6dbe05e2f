import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  FeatureEncoder,
  applyEvent,
  categoryFor,
  emptyAggregates,
  fitFeatureSpec,
  numberOf,
  readValue,
  type CrossDeclaration,
  type FeatureDeclaration,
  type FeatureSpec,
  FEATURE_FORMAT,
  type ProfileAggregates,
} from '../src/features';
import { referenceProfileTotals, referenceWriteProfile } from './reference-profile';
import { StringPrefilter } from '../src/features/encode';
import type { Activity, FeatureRecord } from '../src/domain';
import { OUTCOMES } from '../src/domain';

/**
 * The encoding written the obvious way: every column of every row, one feature at a time. The
 * batch encoder (signatures, per-type memos, constant columns folded into shared entries) must
 * produce exactly these vectors.
 */
function referenceEncode(
  spec: FeatureSpec,
  activities: Activity[],
  context: FeatureRecord,
  user: FeatureRecord,
  profile: ProfileAggregates,
) {
  const out = new Float32Array(activities.length * spec.dimension);
  activities.forEach((a, r) => {
    let offset = r * spec.dimension;
    for (const f of spec.features) {
      if (f.kind === 'numeric') {
        const x = numberOf(readValue(f, a, context, user));
        out[offset] = x === undefined ? 0 : (x - f.mean) / f.std;
        offset += 1;
        continue;
      }
      const category = categoryFor(f, a, context, user);
      const i = category === undefined ? -1 : f.vocab.indexOf(category);
      if (i >= 0) out[offset + i] = 1;
      offset += f.vocab.length;
    }
    if (spec.profile) referenceWriteProfile(out, offset, referenceProfileTotals(profile, spec.priors), profile, a, spec.priors);
  });
  return out;
}

const TYPES = ['coupon', 'bundle', 'flash', 'live', 'constructor'];
const IDS = ['a', 'b', 'c', 'd', '__proto__', 'e1', 'e2'];
const DECLARATIONS: (FeatureDeclaration | CrossDeclaration)[] = [
  { source: 'context', key: 'page', kind: 'categorical' },
  { source: 'context', key: 'cart', kind: 'numeric' },
  { source: 'user', key: 'age', kind: 'categorical' },
  { source: 'activity', key: 'id', kind: 'categorical' },
  { source: 'activity', key: 'type', kind: 'categorical' },
  { source: 'activity', key: 'features.colour', kind: 'categorical' },
  { source: 'activity', key: 'features.discount', kind: 'numeric' },
  {
    kind: 'cross',
    parts: [
      { source: 'activity', key: 'id', kind: 'categorical' },
      { source: 'context', key: 'page', kind: 'categorical' },
    ],
  },
  {
    kind: 'cross',
    parts: [
      { source: 'user', key: 'age', kind: 'categorical' },
      { source: 'activity', key: 'type', kind: 'categorical' },
    ],
  },
  {
    kind: 'cross',
    parts: [
      { source: 'activity', key: 'type', kind: 'categorical' },
      { source: 'activity', key: 'features.colour', kind: 'categorical' },
    ],
  },
  {
    kind: 'cross',
    parts: [
      { source: 'activity', key: 'id', kind: 'categorical' },
      { source: 'user', key: 'age', kind: 'categorical' },
    ],
  },
  {
    kind: 'cross',
    parts: [
      { source: 'context', key: 'page', kind: 'categorical' },
      { source: 'user', key: 'age', kind: 'categorical' },
    ],
  },
];

const activityArb = fc.record(
  {
    id: fc.constantFrom(...IDS),
    type: fc.constantFrom(...TYPES),
    features: fc.record(
      {
        colour: fc.constantFrom('red', 'blue', 'green', 7, true),
        discount: fc.oneof(fc.integer({ min: 0, max: 60 }), fc.constant('x')),
        // Attribute names and values with '=': the profile keys them as `${name}=${value}`.
        a: fc.constantFrom('b=c', 'c', 'b'),
        'a=b': fc.constantFrom('c', 'b=c'),
      },
      { requiredKeys: [] },
    ),
  },
  { requiredKeys: ['id', 'type'] },
);
const contextArb = fc.record(
  { page: fc.constantFrom('home', 'cart', 'other'), cart: fc.integer({ min: 0, max: 90 }) },
  { requiredKeys: [] },
);
const userArb = fc.record({ age: fc.constantFrom('26', '31', '40') }, { requiredKeys: [] });
const eventArb = fc.record({
  activityId: fc.constantFrom(...IDS),
  activityType: fc.constantFrom(...TYPES),
  outcome: fc.constantFrom(...OUTCOMES),
  hour: fc.constant(0),
  attributes: fc.option(
    fc.record(
      { colour: fc.constantFrom('red', 'blue'), a: fc.constantFrom('b=c', 'c'), 'a=b': fc.constantFrom('c', 'b=c') },
      { requiredKeys: [] },
    ),
    { nil: undefined },
  ),
});

describe('batch encoder equals the column-by-column reference', () => {
  const fitted = fc.sample(fc.array(fc.tuple(activityArb, contextArb, userArb, fc.boolean()), { minLength: 20, maxLength: 20 }), {
    seed: 7,
    numRuns: 1,
  })[0];
  const spec = fitFeatureSpec(
    'property',
    DECLARATIONS,
    fitted.map(([activity, context, user, label]) => ({ activity, context, user, label: label ? 1 : 0 })),
  );
  const encoder = new FeatureEncoder(spec);

  it('for random batches, shoppers and histories', () => {
    fc.assert(
      fc.property(
        fc.array(activityArb, { maxLength: 30 }),
        contextArb,
        userArb,
        fc.array(eventArb, { maxLength: 25 }),
        (activities, context, user, events) => {
          const profile = events.reduce(applyEvent, emptyAggregates());
          const expected = referenceEncode(spec, activities, context, user, profile);
          expect(Array.from(encoder.encodeBatch(activities, context, user, profile))).toEqual(Array.from(expected));
          const batch = encoder.encodeFactored(activities, context, user, profile);
          // Every candidate lights exactly one signature; constant columns left the rows.
          expect(batch.width).toBe(batch.variableColumns.length + batch.signatures.length);
          for (let r = 0; r < batch.n; r++) {
            const ones = batch.rows.subarray(r * batch.width + batch.variableColumns.length, (r + 1) * batch.width);
            expect(ones.reduce((s, x) => s + x, 0)).toBe(1);
          }
        },
      ),
      { numRuns: 300, seed: 13 },
    );
  });

  it('finds attribute history whichever `=` splits its key (`a`=`b=c` and `a=b`=`c` are one key)', () => {
    const events = [{ activityId: 'a', activityType: 'coupon', outcome: 'click', hour: 0, attributes: { a: 'b=c' } }] as const;
    const profile = events.reduce(applyEvent, emptyAggregates());
    const acts: Activity[] = [
      { id: 'x', type: 'coupon', features: { 'a=b': 'c' } },
      { id: 'y', type: 'coupon', features: { a: 'b=c' } },
      { id: 'z', type: 'coupon', features: { a: 'b' } },
    ];
    const expected = referenceEncode(spec, acts, {}, {}, profile);
    expect(Array.from(encoder.encodeBatch(acts, {}, {}, profile))).toEqual(Array.from(expected));
    const column = spec.dimension - 17 + 14; // profile.attribute_residual
    expect(expected[column]).not.toBe(0);
    expect(expected[spec.dimension + column]).toBe(expected[column]);
  });

  it('moves columns that are constant in the batch to the shared entries', () => {
    const acts = [
      { id: 'a', type: 'coupon', features: { discount: 10 } },
      { id: 'b', type: 'coupon', features: { discount: 30 } },
    ];
    const batch = encoder.encodeFactored(acts, { page: 'home' }, {}, emptyAggregates());
    // Without history the whole profile block is the same for both: only the discount varies.
    expect(Array.from(batch.variableColumns)).toHaveLength(1);
    const withHistory = [{ activityId: 'a', activityType: 'coupon', outcome: 'purchase', hour: 0 }] as const;
    const profile = withHistory.reduce(applyEvent, emptyAggregates());
    expect(encoder.encodeFactored(acts, { page: 'home' }, {}, profile).variableColumns.length).toBeGreaterThan(1);
  });
});

describe('signature lookup for fields with large vocabularies', () => {
  /** `fields` categorical activity features of `size` known values each (no profile block). */
  function wideSpec(fields: number, size: number): FeatureSpec {
    const vocab = Array.from({ length: size }, (_, i) => `v${i}`);
    const features = Array.from({ length: fields }, (_, f) => ({
      source: 'activity' as const,
      key: `features.f${f}`,
      kind: 'categorical' as const,
      vocab,
    }));
    return {
      format: FEATURE_FORMAT,
      name: 'wide',
      features,
      profile: false,
      priors: { global: 0.5, byType: {}, byActivity: {}, byAttribute: {} },
      dimension: fields * size,
    };
  }

  // One field of 5,000 values: tuples keyed in a Map. Four of 20,000: the mixed-radix number would
  // pass 2^53, so tuples are interned pairwise.
  for (const [fields, size] of [
    [1, 5000],
    [4, 20000],
  ]) {
    it(`${fields} field(s) of ${size} values equal the reference`, () => {
      const spec = wideSpec(fields, size);
      const encoder = new FeatureEncoder(spec);
      const value = fc.oneof(
        fc.integer({ min: 0, max: 3 }).map((i) => `v${i}`),
        fc.integer({ min: 0, max: size + 5 }).map((i) => `v${i}`),
      );
      const activity = fc
        .array(value, { minLength: fields, maxLength: fields })
        .map((vs: string[]): Activity => ({ id: vs.join('|'), type: 't', features: Object.fromEntries(vs.map((v, f) => [`f${f}`, v])) }));
      fc.assert(
        fc.property(fc.array(activity, { maxLength: 40 }), (activities) => {
          const expected = referenceEncode(spec, activities, {}, {}, emptyAggregates());
          const got = encoder.encodeBatch(activities, {}, {}, emptyAggregates());
          expect(got.length).toBe(expected.length);
          for (let i = 0; i < got.length; i++) if (got[i] !== expected[i]) expect([i, got[i]]).toEqual([i, expected[i]]);
        }),
        { numRuns: 60, seed: 11 },
      );
    });
  }
});

describe('string prefilter', () => {
  it('never rules out a member, and rules out most strangers', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.string({ maxLength: 12 }), { maxLength: 50 }), (members) => {
        const filter = new StringPrefilter();
        members.forEach((m) => filter.add(m));
        for (const m of members) expect(filter.has(m)).toBe(true);
      }),
      { seed: 2 },
    );
    const filter = new StringPrefilter();
    for (let i = 0; i < 10; i++) filter.add(`bar-${i}d`);
    const strangers = Array.from({ length: 1000 }, (_, i) => `offer-${i}`);
    expect(strangers.filter((s) => filter.has(s)).length).toBeLessThan(50);
  });
});

describe('encoder edge cases the reference decides', () => {
  const cat = (source: 'activity' | 'context', key: string) => ({ source, key, kind: 'categorical' as const });
  const cross = (a: FeatureDeclaration, b: FeatureDeclaration, vocab: string[]) => ({
    kind: 'cross' as const,
    source: 'cross' as const,
    key: `${a.source}.${a.key}*${b.source}.${b.key}`,
    parts: [a, b] as [FeatureDeclaration, FeatureDeclaration],
    vocab,
  });
  const SEP = '\u241f';
  const features = [
    // Two activity-by-activity crosses whose keys join to the same text.
    cross(cat('activity', 'features.x'), cat('activity', 'features.y*features.z'), [`1${SEP}2`]),
    cross(cat('activity', 'features.x*features.y'), cat('activity', 'features.z'), [`3${SEP}4`]),
    // Values containing the separator, and an entry whose shared part is empty.
    cross(cat('activity', 'id'), cat('context', 'page'), [`a${SEP}b${SEP}home`, `a${SEP}`, `c${SEP}home`, `5${SEP}home`]),
  ];
  const spec: FeatureSpec = {
    format: FEATURE_FORMAT,
    name: 'edges',
    features,
    profile: true,
    priors: { global: 0.5, byType: {}, byActivity: { '5': 0.3 }, byAttribute: {} },
    dimension: 1 + 1 + 4 + 17,
  };
  const encoder = new FeatureEncoder(spec);
  const events = [{ activityId: '5', activityType: 't', outcome: 'click', hour: 0 }] as const;
  const profile = events.reduce(applyEvent, emptyAggregates());
  const acts = [
    { id: 'q', type: 't', features: { x: '1', 'y*features.z': '2', 'x*features.y': '3', z: '4' } },
    { id: 'a', type: 't' },
    { id: `a${SEP}b`, type: 't' },
    { id: 'c', type: 't' },
    { id: 5, type: 't' } as unknown as Activity, // Node callers (training, tools) are not validated
  ];
  for (const context of [{ page: 'home' }, {}, { page: '' }]) {
    it(`context ${JSON.stringify(context)}`, () => {
      expect(Array.from(encoder.encodeBatch(acts, context, {}, profile))).toEqual(
        Array.from(referenceEncode(spec, acts, context, {}, profile)),
      );
    });
  }
});
