import type { Activity } from '@vitrine/sdk';

/** A shop offer: what rank() needs (id, type, features) plus what the card shows. */
export interface Offer extends Activity {
  type: string;
  features: { expiration: '2h' | '1d'; format: OfferFormat };
  title: string;
  blurb: string;
  /** 'coupon': one of the ten survey offers the model was trained on; else a promotion it has never seen. */
  kind: 'coupon' | 'promo';
}

/** How the offer is presented (a shop attribute; the coupon model does not know this feature). */
export type OfferFormat = 'coupon' | 'flash-sale' | 'live-stream' | 'new-arrival' | 'bundle';

/** The 10 offers of the coupon survey: five venue types, each valid 2 hours or 1 day. */
const SURVEY: [type: string, title: string, blurb: string][] = [
  ['Bar', 'A drink at the bar around the corner', 'Happy-hour prices on your first round.'],
  ['Carry out & Take away', 'Take-away meal deal', 'A main and a drink to go, ready in ten minutes.'],
  ['Coffee House', 'Coffee and pastry', 'Any coffee with a fresh pastry from the counter.'],
  ['Restaurant(20-50)', 'Dinner for two, $20–50 a head', 'Two courses each at a neighbourhood restaurant.'],
  ['Restaurant(<20)', 'Lunch under $20', 'A quick lunch menu, soup or salad included.'],
];

const slug = (type: string) =>
  type
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');

const COUPONS: Offer[] = SURVEY.flatMap(([type, title, blurb]) =>
  (['2h', '1d'] as const).map((expiration) => ({
    // The ids the model was trained with (its activity id vocabulary).
    id: `${slug(type)}-${expiration}`,
    type,
    title: `${title}${expiration === '2h' ? ', next 2 hours' : ', all day'}`,
    blurb,
    kind: 'coupon' as const,
    features: { expiration, format: 'coupon' as const },
  })),
);

/** The shop's own order (what a slot shows before, or without, a ranking): venue types alternate. */
const SHOP_ORDER = [
  'coffee-house-2h',
  'restaurant-20-1d',
  'bar-1d',
  'carry-out-take-away-2h',
  'restaurant-20-50-1d',
  'coffee-house-1d',
  'restaurant-20-2h',
  'carry-out-take-away-1d',
  'bar-2h',
  'restaurant-20-50-2h',
];
COUPONS.sort((a, b) => SHOP_ORDER.indexOf(a.id) - SHOP_ORDER.indexOf(b.id));

/**
 * Promotions the model has never seen: new ids, so rank() scores them from their type and
 * features alone (cold start) and the policy explores them. Types are the survey's venue types,
 * which the model knows; the expiration says how long the promotion runs.
 */
const PROMOS: Offer[] = [
  {
    id: 'flash-sale-iced-coffee',
    type: 'Coffee House',
    title: 'Flash sale: two iced coffees for one',
    blurb: 'Two hours only, at every coffee house in town.',
    kind: 'promo',
    features: { expiration: '2h', format: 'flash-sale' },
  },
  {
    id: 'live-stream-cook-along',
    type: 'Carry out & Take away',
    title: 'Live stream: cook along with a chef',
    blurb: 'Tonight at 7: order the ingredients kit to go and cook with us.',
    kind: 'promo',
    features: { expiration: '1d', format: 'live-stream' },
  },
  {
    id: 'new-arrival-tapas-bar',
    type: 'Bar',
    title: 'New: the tapas bar on Main Street',
    blurb: 'Just opened. A free tapa with every drink this week.',
    kind: 'promo',
    features: { expiration: '1d', format: 'new-arrival' },
  },
  {
    id: 'bundle-lunch-and-coffee',
    type: 'Restaurant(<20)',
    title: 'Bundle: lunch and a coffee for $15',
    blurb: 'Any lunch menu plus a coffee to go, one price.',
    kind: 'promo',
    features: { expiration: '2h', format: 'bundle' },
  },
];

export const CATALOG: Offer[] = [...COUPONS, ...PROMOS];
export const COUPON_OFFERS = COUPONS;
export const PROMO_OFFERS = PROMOS;

export const offerById = (id: string): Offer | undefined => CATALOG.find((o) => o.id === id);

/** Plain words for the card: how long the offer is valid. */
export const validity = (o: Offer) => (o.features.expiration === '2h' ? 'Valid for 2 hours' : 'Valid for 1 day');

/** Venue types as a shopper reads them. */
export const TYPE_LABELS: Record<string, string> = {
  Bar: 'Bar',
  'Carry out & Take away': 'Take-away',
  'Coffee House': 'Coffee house',
  'Restaurant(20-50)': 'Restaurant ($20–50)',
  'Restaurant(<20)': 'Restaurant (under $20)',
};

export const FORMAT_LABELS: Record<OfferFormat, string> = {
  coupon: 'Coupon',
  'flash-sale': 'Flash sale',
  'live-stream': 'Live stream',
  'new-arrival': 'New arrival',
  bundle: 'Bundle',
};

/** The coupon model's page-context fields (the survey's driving situation) and their values. */
export const CONTEXT_FIELDS: Record<string, string[]> = {
  destination: ['No Urgent Place', 'Home', 'Work'],
  passanger: ['Alone', 'Friend(s)', 'Kid(s)', 'Partner'],
  weather: ['Sunny', 'Rainy', 'Snowy'],
  temperature: ['80', '55', '30'],
  time: ['7AM', '10AM', '2PM', '6PM', '10PM'],
  toCoupon_GEQ15min: ['0', '1'],
  direction_same: ['0', '1'],
};

/** Labels for the situation picker (the survey's field names are terse, one is misspelt). */
export const CONTEXT_LABELS: Record<string, string> = {
  destination: 'Heading to',
  passanger: 'With',
  weather: 'Weather',
  temperature: 'Temperature (°F)',
  time: 'Time',
  toCoupon_GEQ15min: '15 min or more away',
  direction_same: 'On my way',
};

/** Fields rank() reads as numbers. */
export const NUMERIC_CONTEXT = ['toCoupon_GEQ15min', 'direction_same'];

export const DEFAULT_SITUATION: Record<string, string> = {
  destination: 'No Urgent Place',
  passanger: 'Friend(s)',
  weather: 'Sunny',
  temperature: '80',
  time: '2PM',
  toCoupon_GEQ15min: '0',
  direction_same: '0',
};

/** Shopper attributes of the survey (kept on the device, passed to the SDK as `user`). */
export const USER_FIELDS: Record<string, string[]> = {
  age: ['below21', '21', '26', '31', '36', '41', '46', '50plus'],
  gender: ['Female', 'Male'],
  has_children: ['0', '1'],
  CoffeeHouse: ['never', 'less1', '1~3', '4~8', 'gt8'],
  Bar: ['never', 'less1', '1~3', '4~8', 'gt8'],
  RestaurantLessThan20: ['never', 'less1', '1~3', '4~8', 'gt8'],
};

export const USER_LABELS: Record<string, string> = {
  age: 'Age',
  gender: 'Gender',
  has_children: 'Has children',
  CoffeeHouse: 'Coffee house visits a month',
  Bar: 'Bar visits a month',
  RestaurantLessThan20: 'Cheap restaurant visits a month',
};

export const DEFAULT_USER: Record<string, string> = {
  age: '26',
  gender: 'Female',
  has_children: '0',
  CoffeeHouse: '1~3',
  Bar: 'never',
  RestaurantLessThan20: '4~8',
};
