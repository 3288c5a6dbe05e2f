/** The 10 offers of the coupon survey, as a shop catalog, plus the survey's context and shopper fields. */
const TYPES: [string, string][] = [
  ['Bar', 'A drink at the bar around the corner'],
  ['Carry out & Take away', 'Take-away meal deal'],
  ['Coffee House', 'Coffee and pastry'],
  ['Restaurant(20-50)', 'Dinner for two, $20–50 a head'],
  ['Restaurant(<20)', 'Lunch under $20'],
];

export const CATALOG = TYPES.flatMap(([type, title]) =>
  (['2h', '1d'] as const).map((expiration) => ({
    id: `${type
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '')}-${expiration}`,
    type,
    title,
    features: { expiration },
  })),
);

export const CONTEXT_FIELDS: Record<string, string[]> = {
  destination: ['No Urgent Place', 'Home', 'Work'],
  passanger: ['Alone', 'Friend(s)', 'Kid(s)', 'Partner'],
  weather: ['Sunny', 'Rainy', 'Snowy'],
  temperature: ['80', '55', '30'],
  time: ['7AM', '10AM', '2PM', '6PM', '10PM'],
  toCoupon_GEQ15min: ['0', '1'],
  direction_same: ['0', '1'],
};

export const USER_FIELDS: Record<string, string[]> = {
  age: ['below21', '21', '26', '31', '36', '41', '46', '50plus'],
  gender: ['Female', 'Male'],
  has_children: ['0', '1'],
  CoffeeHouse: ['never', 'less1', '1~3', '4~8', 'gt8'],
  Bar: ['never', 'less1', '1~3', '4~8', 'gt8'],
  RestaurantLessThan20: ['never', 'less1', '1~3', '4~8', 'gt8'],
};
