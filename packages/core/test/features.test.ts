import { describe, expect, it } from 'vitest';
import {
  FeatureEncoder,
  fitFeatureSpec,
  columnNames,
  PROFILE_FEATURES,
  applyEvent,
  emptyAggregates,
  type FeatureDeclaration,
} from '../src/features';
import { PROFILE_COLUMN, profileTotals, writeProfile } from '../src/features/profile-block';

const decls: FeatureDeclaration[] = [
  { source: 'context', key: 'page', kind: 'categorical' },
  { source: 'context', key: 'cart', kind: 'numeric' },
  { source: 'user', key: 'age', kind: 'categorical' },
  { source: 'activity', key: 'type', kind: 'categorical' },
  { source: 'activity', key: 'features.discount', kind: 'numeric' },
];
const examples = [
  { activity: { id: 'a', type: 'coupon', features: { discount: 10 } }, context: { page: 'home', cart: 20 }, user: { age: '26' } },
  { activity: { id: 'b', type: 'bundle', features: { discount: 30 } }, context: { page: 'cart', cart: 40 }, user: { age: '31' } },
];

describe('feature encoder', () => {
  const spec = fitFeatureSpec('t', decls, examples);

  it('fits sorted vocabularies and standardisation', () => {
    expect(spec.features[0]).toMatchObject({ kind: 'categorical', vocab: ['cart', 'home'] });
    expect(spec.features[1]).toMatchObject({ kind: 'numeric', mean: 30, std: 10 });
    expect(spec.dimension).toBe(2 + 1 + 2 + 2 + 1 + PROFILE_FEATURES.length);
    expect(columnNames(spec)).toHaveLength(spec.dimension);
  });

  it('one-hot encodes, standardises, and zeroes unknown or missing values', () => {
    const enc = new FeatureEncoder(spec);
    const row = enc.encode({ id: 'z', type: 'flash', features: { discount: 50 } }, { page: 'home', cart: 40 }, {}, emptyAggregates());
    const names = columnNames(spec);
    const get = (n: string) => row[names.indexOf(n)];
    expect(get('context.page=home')).toBe(1);
    expect(get('context.page=cart')).toBe(0);
    expect(get('context.cart')).toBeCloseTo(1);
    expect(get('user.age=26') + get('user.age=31')).toBe(0);
    expect(get('activity.type=coupon') + get('activity.type=bundle')).toBe(0);
    expect(get('activity.features.discount')).toBeCloseTo(3);
    expect(get('profile.accept_rate')).toBe(0.5);
    expect(get('profile.has_history')).toBe(0);
  });

  it('batch rows equal single rows (shared context encoded once)', () => {
    const enc = new FeatureEncoder(spec);
    const acts = examples.map((e) => e.activity);
    const batch = enc.encodeBatch(acts, { page: 'cart', cart: 25 }, { age: '31' }, emptyAggregates());
    acts.forEach((a, i) => {
      expect(Array.from(batch.subarray(i * enc.dimension, (i + 1) * enc.dimension))).toEqual(
        Array.from(enc.encode(a, { page: 'cart', cart: 25 }, { age: '31' }, emptyAggregates())),
      );
    });
  });

  it('profile features reflect only the events folded in so far', () => {
    const enc = new FeatureEncoder(spec);
    const names = columnNames(spec);
    let p = emptyAggregates();
    p = applyEvent(p, { activityId: 'a', activityType: 'coupon', outcome: 'click', hour: 0 });
    p = applyEvent(p, { activityId: 'b', activityType: 'bundle', outcome: 'dismiss', hour: 0 });
    p = applyEvent(p, { activityId: 'a', activityType: 'coupon', outcome: 'view', hour: 0 });
    const row = enc.encode(examples[0].activity, {}, {}, p);
    const get = (n: string) => row[names.indexOf(n)];
    expect(get('profile.answered_log')).toBeCloseTo(Math.log1p(2));
    expect(get('profile.accept_rate')).toBeCloseTo(2 / 4);
    expect(get('profile.type_accept_rate')).toBeCloseTo((1 + 2 * 0.5) / 3);
    expect(get('profile.last_outcome')).toBe(-1);
    expect(get('profile.last_outcome_type')).toBe(1);
    expect(get('profile.type_views_log')).toBeCloseTo(Math.log1p(1));
  });

  it('encodes cross features as one-hot pairs and fits priors only from labelled rows', () => {
    const labelled = [
      { ...examples[0], label: 1 },
      { ...examples[0], label: 1 },
      { ...examples[1], label: 0 },
      { ...examples[1], label: 1 },
    ];
    const cross = fitFeatureSpec(
      'x',
      [
        {
          kind: 'cross',
          parts: [
            { source: 'activity', key: 'type', kind: 'categorical' },
            { source: 'user', key: 'age', kind: 'categorical' },
          ],
        },
      ],
      labelled,
    );
    expect(cross.features[0]).toMatchObject({ kind: 'cross', key: 'activity.type*user.age', vocab: ['bundle\u241f31', 'coupon\u241f26'] });
    expect(cross.priors.global).toBe(0.75);
    // Shrunk towards the global rate with 10 pseudo-observations.
    expect(cross.priors.byType.coupon).toBeCloseTo((2 + 10 * 0.75) / 12, 6);
    expect(cross.priors.byAttribute).toEqual({});
    const enc = new FeatureEncoder(cross);
    const names = columnNames(cross);
    const row = enc.encode({ id: 'q', type: 'bundle' }, {}, { age: '31' }, emptyAggregates());
    expect(row[names.indexOf('cross.activity.type*user.age=bundle\u241f31')]).toBe(1);
    expect(enc.encode({ id: 'q', type: 'bundle' }, {}, { age: '99' }, emptyAggregates()).slice(0, 2)).toEqual(new Float32Array([0, 0]));
    // Batch fast path (shared side resolved once) == the generic per-row lookup.
    const batch = enc.encodeBatch(
      [
        { id: 'a', type: 'coupon' },
        { id: 'b', type: 'bundle' },
        { id: 'c', type: 'flash' },
      ],
      {},
      { age: '26' },
      emptyAggregates(),
    );
    const d = enc.dimension;
    expect(batch[names.indexOf('cross.activity.type*user.age=coupon\u241f26')]).toBe(1);
    expect(Array.from(batch.subarray(d, d + 2))).toEqual([0, 0]);
    expect(Array.from(batch.subarray(2 * d, 2 * d + 2))).toEqual([0, 0]);
  });

  it('profile residuals compare the shopper with the population rate, including per attribute', () => {
    const offer = { id: 'c1', type: 'coupon', features: { expiration: '2h', discount: 10 } };
    const spec = fitFeatureSpec('r', decls, [
      { activity: offer, context: { page: 'home' }, user: {}, label: 1 },
      { activity: offer, context: {}, user: {}, label: 0 },
      { activity: { id: 'c2', type: 'coupon', features: { expiration: '1d' } }, context: {}, user: {}, label: 1 },
    ]);
    expect(spec.priors.byAttribute).toEqual({ 'expiration=1d': expect.any(Number), 'expiration=2h': expect.any(Number) });
    const enc = new FeatureEncoder(spec);
    const names = columnNames(spec);
    let p = emptyAggregates();
    for (let i = 0; i < 3; i++)
      p = applyEvent(p, { activityId: 'c1', activityType: 'coupon', outcome: 'click', hour: 0, attributes: { expiration: '2h' } });
    const row = enc.encode(offer, {}, {}, p);
    const prior2h = spec.priors.byAttribute['expiration=2h'];
    expect(row[names.indexOf('profile.attribute_residual')]).toBeCloseTo((3 - 3 * prior2h) / (3 + 2), 6);
    expect(row[names.indexOf('profile.type_residual')]).toBeCloseTo((3 - 3 * spec.priors.byType.coupon) / 5, 6);
    expect(row[names.indexOf('profile.residual')]).toBeGreaterThan(0);
    // An offer with an attribute value never answered: no attribute evidence.
    expect(enc.encode({ ...offer, features: { expiration: '1w' } }, {}, {}, p)[names.indexOf('profile.attribute_residual')]).toBe(0);
  });

  it('refuses a spec whose dimension does not add up', () => {
    expect(() => new FeatureEncoder({ ...spec, dimension: spec.dimension + 1 })).toThrow(/dimension/);
  });
});

describe('profile block', () => {
  const priors = { global: 0.5, byType: { Bar: 0.3 }, byActivity: { a1: 0.2 }, byAttribute: { 'expiration=1d': 0.6 } };
  const bar = { id: 'a1', type: 'Bar', features: { expiration: '1d' } };

  it('writes every column of PROFILE_FEATURES, with and without history', () => {
    let history = emptyAggregates();
    const profiles = [history];
    for (const outcome of ['click', 'dismiss', 'view', 'purchase'] as const) {
      history = applyEvent(history, { activityId: 'a1', activityType: 'Bar', outcome, hour: 0, attributes: { expiration: '1d' } });
      profiles.push(history);
    }
    for (const profile of profiles) {
      // NaN marks an unwritten column: a name added to the list but not to the writer fails here.
      const out = new Float32Array(PROFILE_FEATURES.length + 3).fill(Number.NaN);
      writeProfile(out, 2, profileTotals(profile, priors), profile, bar, priors);
      const block = Array.from(out.subarray(2, 2 + PROFILE_FEATURES.length));
      expect(block.every(Number.isFinite), JSON.stringify(block)).toBe(true);
      expect(Number.isNaN(out[1]) && Number.isNaN(out[2 + PROFILE_FEATURES.length])).toBe(true);
    }
  });

  it('places each named column at its offset in the list', () => {
    expect(Object.keys(PROFILE_COLUMN)).toEqual([...PROFILE_FEATURES]);
    expect(Object.values(PROFILE_COLUMN)).toEqual(PROFILE_FEATURES.map((_, i) => i));
    let profile = emptyAggregates();
    profile = applyEvent(profile, { activityId: 'a1', activityType: 'Bar', outcome: 'click', hour: 0 });
    const out = new Float32Array(PROFILE_FEATURES.length);
    writeProfile(out, 0, profileTotals(profile, priors), profile, bar, priors);
    expect(out[PROFILE_COLUMN['profile.has_history']]).toBe(1);
    expect(out[PROFILE_COLUMN['profile.answered_log']]).toBeCloseTo(Math.log1p(1), 6);
    expect(out[PROFILE_COLUMN['profile.last_outcome']]).toBe(1);
  });
});
