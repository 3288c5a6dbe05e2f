import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dequantize, parseManifest, referenceScores, type ModelManifest } from '@vitrine/core/artifact';
import { exactBuffer } from '@vitrine/core/bytes';
import type { Activity, FeatureRecord, Outcome } from '@vitrine/core/domain';
import { FeatureEncoder, activityAttributes, applyEvent, emptyAggregates } from '@vitrine/core/features';
import { COUPON_CATALOG } from './datasets/coupons';
import { seededRandom } from '@vitrine/core/random';

export const VECTORS_FORMAT = 'vitrine-test-vectors@1';

export interface VectorCase {
  name: string;
  user: FeatureRecord;
  context: FeatureRecord;
  /** Earlier interactions, oldest first, replayed with rank() + track() in the browser. */
  history: { activity: Activity; outcome: Outcome; context?: FeatureRecord }[];
  activity: Activity;
  features: number[];
  score: number;
}

export interface TestVectors {
  format: typeof VECTORS_FORMAT;
  featureFormat: string;
  modelVersion: string;
  cases: VectorCase[];
}

/** Reads a published artifact from disk with the SDK's own manifest parser and dequantizer. */
export function readArtifact(manifestPath: string): { manifest: ModelManifest; weights: Map<string, Float32Array>; bytes: number } {
  const manifest = parseManifest(JSON.parse(readFileSync(manifestPath, 'utf8')));
  const dir = manifestPath.slice(0, manifestPath.lastIndexOf('/') + 1);
  const files = manifest.files.map((f) => exactBuffer(readFileSync(join(dir, f.path))));
  const weights = new Map(manifest.tensors.map((t) => [t.name, dequantize(t, files[t.file])]));
  return { manifest, weights, bytes: manifest.files.reduce((s, f) => s + f.bytes, 0) };
}

const USERS: FeatureRecord[] = [
  {},
  {
    gender: 'Female',
    age: '26',
    maritalStatus: 'Single',
    has_children: '0',
    education: 'Bachelors degree',
    occupation: 'Student',
    income: '$12500 - $24999',
    Bar: 'never',
    CoffeeHouse: '4~8',
    CarryAway: '1~3',
    RestaurantLessThan20: '4~8',
    Restaurant20To50: 'less1',
  },
  {
    gender: 'Male',
    age: '50plus',
    maritalStatus: 'Married partner',
    has_children: '1',
    education: 'Graduate degree (Masters or Doctorate)',
    occupation: 'Management',
    income: '$100000 or More',
    Bar: 'gt8',
    CoffeeHouse: 'never',
    CarryAway: 'gt8',
    RestaurantLessThan20: '1~3',
    Restaurant20To50: '1~3',
  },
  { age: 'unknown-age', CoffeeHouse: 'gt8', extra_field: 'ignored' },
];
const CONTEXTS: FeatureRecord[] = [
  {
    destination: 'No Urgent Place',
    passanger: 'Friend(s)',
    weather: 'Sunny',
    temperature: '80',
    time: '2PM',
    toCoupon_GEQ5min: 1,
    toCoupon_GEQ15min: 0,
    toCoupon_GEQ25min: 0,
    direction_same: 0,
    direction_opp: 1,
  },
  {
    destination: 'Work',
    passanger: 'Alone',
    weather: 'Snowy',
    temperature: '30',
    time: '7AM',
    toCoupon_GEQ5min: 1,
    toCoupon_GEQ15min: 1,
    toCoupon_GEQ25min: 1,
    direction_same: 1,
    direction_opp: 0,
  },
  { destination: 'Home', weather: 'Rainy', time: '10PM' },
];

/** Deterministic cases covering empty, partial and unknown inputs and histories of 0..12 events. */
export function buildVectors(manifestPath: string): TestVectors {
  const { manifest, weights } = readArtifact(manifestPath);
  const encoder = new FeatureEncoder(manifest.featureSpec);
  const random = seededRandom(2026);
  const outcomes: Outcome[] = ['click', 'dismiss', 'view', 'purchase', 'dismiss', 'add_to_cart'];
  const cases: VectorCase[] = [];
  for (let i = 0; i < 24; i++) {
    const user = USERS[i % USERS.length];
    const context = CONTEXTS[i % CONTEXTS.length];
    const history = Array.from({ length: [0, 1, 3, 6, 12][i % 5] }, (_, j) => ({
      activity: COUPON_CATALOG[Math.floor(random() * COUPON_CATALOG.length)],
      outcome: outcomes[Math.floor(random() * outcomes.length)],
      ...(j % 2 ? { context: CONTEXTS[(i + j) % CONTEXTS.length] } : {}),
    }));
    const activity =
      i === 23 ? { id: 'brand-new-offer', type: 'Live stream', features: { expiration: '1w' } } : COUPON_CATALOG[i % COUPON_CATALOG.length];
    let profile = emptyAggregates();
    for (const h of history)
      profile = applyEvent(profile, {
        activityId: h.activity.id,
        activityType: h.activity.type,
        outcome: h.outcome,
        hour: 0,
        attributes: activityAttributes(h.activity.features),
      });
    const features = encoder.encode(activity, context, user, profile);
    const score = referenceScores(manifest, weights, features, 1)[0];
    cases.push({ name: `case-${i}`, user, context, history, activity, features: Array.from(features), score });
  }
  return { format: VECTORS_FORMAT, featureFormat: manifest.featureSpec.format, modelVersion: manifest.version, cases };
}

export function writeVectors(manifestPath: string, outPath: string): TestVectors {
  const vectors = buildVectors(manifestPath);
  writeFileSync(outPath, `${JSON.stringify(vectors)}\n`);
  return vectors;
}
