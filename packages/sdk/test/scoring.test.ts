import { describe, expect, it } from 'vitest';
import { referenceScores } from '@vitrine/core/artifact';
import { FeatureEncoder, applyEvent, emptyAggregates } from '@vitrine/core/features';
import { TfjsScorer } from '../src/scoring/tfjs-scorer';
import '../src/scoring/backends/cpu';
import { COUPON_CATALOG } from '@vitrine/models/datasets/coupons';
import { readArtifact } from '@vitrine/models/vectors';

describe('factored first layer', () => {
  const { manifest, weights, bytes } = readArtifact('models/coupons/manifest.json');
  const model = { manifest, weights, bytes, fromCache: 0 };
  const encoder = new FeatureEncoder(manifest.featureSpec);

  it('scores exactly like the dense network (reference forward pass), unknown offers included', async () => {
    const activities = [
      ...COUPON_CATALOG,
      { id: 'unknown-offer', type: 'Coffee House', features: { expiration: '1d' } },
      { id: 'live-1', type: 'Live stream' },
      ...COUPON_CATALOG.map((a, i) => ({ ...a, id: `${a.id}-copy${i}` })),
    ];
    const context = { destination: 'Work', passanger: 'Alone', weather: 'Snowy', temperature: '30', time: '7AM', toCoupon_GEQ15min: 1 };
    const user = { age: '26', CoffeeHouse: 'gt8', Bar: 'never', income: '$50000 - $62499' };
    let profile = emptyAggregates();
    for (const a of COUPON_CATALOG.slice(0, 6))
      profile = applyEvent(profile, {
        activityId: a.id,
        activityType: a.type,
        outcome: a.id.endsWith('2h') ? 'click' : 'dismiss',
        hour: 0,
        attributes: { expiration: String(a.features!.expiration) },
      });

    const dense = referenceScores(manifest, weights, encoder.encodeBatch(activities, context, user, profile), activities.length);
    const batch = encoder.encodeFactored(activities, context, user, profile);
    expect(batch.width).toBeLessThan(encoder.dimension / 5); // the point of factoring
    const scorer = new TfjsScorer(model, 'cpu');
    const factored = await scorer.score(batch);
    activities.forEach((a, i) => expect(factored[i], a.id).toBeCloseTo(dense[i], 5));
    // Again, with the signature rows now cached; then another context (other cross columns, some shared).
    expect(Array.from(await scorer.score(batch))).toEqual(Array.from(factored));
    const other = { ...context, destination: 'Home', time: '6PM' };
    const denseOther = referenceScores(manifest, weights, encoder.encodeBatch(activities, other, user, profile), activities.length);
    const again = await scorer.score(encoder.encodeFactored(activities, other, user, profile));
    activities.forEach((a, i) => expect(again[i], a.id).toBeCloseTo(denseOther[i], 5));
    scorer.dispose();
  });

  it('scores a large batch on CPU in slices, letting the event loop run between them', async () => {
    const activities = Array.from({ length: 5000 }, (_, i) => ({
      ...COUPON_CATALOG[i % COUPON_CATALOG.length],
      id: `offer-${i}`,
      features: { expiration: i % 3 ? '2h' : '1d', price: i % 50 },
    }));
    const context = { destination: 'Home', time: '6PM' };
    const scorer = new TfjsScorer(model, 'cpu');
    let timerRan = false;
    setTimeout(() => (timerRan = true), 0);
    const scores = await scorer.score(encoder.encodeFactored(activities, context, {}, emptyAggregates()));
    expect(timerRan).toBe(true);
    const dense = referenceScores(manifest, weights, encoder.encodeBatch(activities, context, {}, emptyAggregates()), activities.length);
    expect(scores).toHaveLength(5000);
    for (const i of [0, 2047, 2048, 4095, 4096, 4999]) expect(scores[i], `row ${i}`).toBeCloseTo(dense[i], 5);
    scorer.dispose();
  });

  it('handles an empty batch and a batch of one', async () => {
    const scorer = new TfjsScorer(model, 'cpu');
    expect(await scorer.score(encoder.encodeFactored([], {}, {}, emptyAggregates()))).toHaveLength(0);
    const one = await scorer.score(encoder.encodeFactored([COUPON_CATALOG[0]], {}, {}, emptyAggregates()));
    expect(one[0]).toBeCloseTo(referenceScores(manifest, weights, encoder.encode(COUPON_CATALOG[0], {}, {}, emptyAggregates()), 1)[0], 5);
  });
});
