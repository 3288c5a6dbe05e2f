import { readFileSync } from 'node:fs';
import Papa from 'papaparse';
import type { Activity, FeatureRecord, Outcome } from '@vitrine/core/domain';
import type { CrossDeclaration, FeatureDeclaration } from '@vitrine/core/features';

/**
 * UCI "In-Vehicle Coupon Recommendation" mapped onto the SDK's vocabulary: each of the 10
 * (coupon, expiration) offers is an activity, the driving scenario is the page context, the
 * demographic and habit answers are user attributes, and a respondent's earlier answers are
 * the on-device behaviour profile.
 */
export const CONTEXT_KEYS = [
  'destination',
  'passanger',
  'weather',
  'temperature',
  'time',
  'toCoupon_GEQ5min',
  'toCoupon_GEQ15min',
  'toCoupon_GEQ25min',
  'direction_same',
  'direction_opp',
] as const;
export const USER_KEYS = [
  'gender',
  'age',
  'maritalStatus',
  'has_children',
  'education',
  'occupation',
  'income',
  'car',
  'Bar',
  'CoffeeHouse',
  'CarryAway',
  'RestaurantLessThan20',
  'Restaurant20To50',
] as const;
export const REQUIRED_COLUMNS = ['respondent', ...CONTEXT_KEYS, 'coupon', 'expiration', ...USER_KEYS, 'Y'];

const NUMERIC_CONTEXT = new Set(['toCoupon_GEQ5min', 'toCoupon_GEQ15min', 'toCoupon_GEQ25min', 'direction_same', 'direction_opp']);

const OFFER_TYPE: FeatureDeclaration = { source: 'activity', key: 'type', kind: 'categorical' };
const OFFER_ID: FeatureDeclaration = { source: 'activity', key: 'id', kind: 'categorical' };
const cat = (source: 'context' | 'user', key: string): FeatureDeclaration => ({ source, key, kind: 'categorical' });

/**
 * Offer x context and offer x habit crosses: the interactions a linear model needs and that a
 * small MLP learns faster when they are given explicitly. Chosen by cross-validation (models/README.md).
 */
export const COUPON_CROSSES: CrossDeclaration[] = [
  ...['destination', 'passanger', 'weather', 'time', 'temperature'].map((k): CrossDeclaration => ({
    kind: 'cross',
    parts: [OFFER_ID, cat('context', k)],
  })),
  ...['Bar', 'CoffeeHouse', 'CarryAway', 'RestaurantLessThan20', 'Restaurant20To50', 'age', 'income', 'has_children'].map(
    (k): CrossDeclaration => ({ kind: 'cross', parts: [OFFER_TYPE, cat('user', k)] }),
  ),
];

export const COUPON_DECLARATIONS: FeatureDeclaration[] = [
  ...CONTEXT_KEYS.map((key): FeatureDeclaration => ({
    source: 'context',
    key,
    kind: NUMERIC_CONTEXT.has(key) ? 'numeric' : 'categorical',
  })),
  ...USER_KEYS.map((key): FeatureDeclaration => ({ source: 'user', key, kind: 'categorical' })),
  { source: 'activity', key: 'id', kind: 'categorical' },
  { source: 'activity', key: 'type', kind: 'categorical' },
  { source: 'activity', key: 'features.expiration', kind: 'categorical' },
];

export interface CouponRow {
  respondent: string;
  activity: Activity;
  context: FeatureRecord;
  user: FeatureRecord;
  label: 0 | 1;
  outcome: Outcome;
}

export function activityId(coupon: string, expiration: string): string {
  return `${coupon
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')}-${expiration}`;
}

export function couponActivity(coupon: string, expiration: string): Activity {
  return { id: activityId(coupon, expiration), type: coupon, features: { expiration } };
}

/** All 10 offers of the survey, as a shop catalog. */
export const COUPON_CATALOG: Activity[] = ['Bar', 'Carry out & Take away', 'Coffee House', 'Restaurant(20-50)', 'Restaurant(<20)'].flatMap(
  (c) => ['2h', '1d'].map((e) => couponActivity(c, e)),
);

export class DatasetError extends Error {}

/** Parses the survey CSV; rows of a respondent keep their file order. */
export function parseCoupons(csv: string, source = 'csv'): CouponRow[] {
  const parsed = Papa.parse<Record<string, string>>(csv, { header: true, skipEmptyLines: true });
  if (parsed.errors.length) {
    const e = parsed.errors[0];
    throw new DatasetError(`${source}: row ${e.row}: ${e.message}`);
  }
  const missing = REQUIRED_COLUMNS.filter((c) => !parsed.meta.fields?.includes(c));
  if (missing.length) throw new DatasetError(`${source}: missing column(s) ${missing.join(', ')}`);
  return parsed.data.map((r, i) => {
    const y = r.Y?.trim();
    if (y !== '0' && y !== '1') throw new DatasetError(`${source}: row ${i + 2}: column Y must be 0 or 1, got "${r.Y}"`);
    const context: FeatureRecord = {};
    for (const k of CONTEXT_KEYS) context[k] = NUMERIC_CONTEXT.has(k) ? (r[k] === '' ? undefined : Number(r[k])) : r[k] || undefined;
    const user: FeatureRecord = {};
    for (const k of USER_KEYS) user[k] = r[k] || undefined;
    const label = y === '1' ? 1 : 0;
    return {
      respondent: r.respondent,
      activity: couponActivity(r.coupon, r.expiration),
      context,
      user,
      label,
      outcome: label ? 'click' : 'dismiss',
    };
  });
}

export function loadCoupons(path: string): CouponRow[] {
  return parseCoupons(readFileSync(path, 'utf8'), path);
}
