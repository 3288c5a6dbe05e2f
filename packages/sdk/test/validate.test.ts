import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as v from 'valibot';
import { ActivitiesSchema, isValidActivityList, validateRank } from '../src/validate';

const value = fc.oneof(fc.string(), fc.double(), fc.boolean(), fc.constant(null), fc.constant(undefined), fc.date(), fc.object());
const activity = fc.oneof(
  fc.record(
    {
      id: fc.oneof(fc.string({ maxLength: 210 }), value),
      type: fc.oneof(fc.string({ maxLength: 3 }), value),
      features: fc.oneof(fc.dictionary(fc.string(), value), value),
      startsAt: fc.oneof(fc.integer(), fc.date(), fc.constantFrom('2026-01-01', 'not a date'), value),
      endsAt: value,
    },
    { requiredKeys: [] },
  ),
  value,
);

describe('rank input fast check', () => {
  it('never accepts what the schema rejects', () => {
    fc.assert(
      fc.property(fc.array(activity, { maxLength: 4 }), (list) => {
        if (isValidActivityList(list)) expect(v.safeParse(ActivitiesSchema, list).success).toBe(true);
      }),
      { numRuns: 2000, seed: 3 },
    );
  });

  it('accepts the common case without copying, and hands odd-but-valid input to the schema', () => {
    const list = [{ id: 'a', type: 'Bar', features: { expiration: '2h', price: 3, new: true }, endsAt: '2030-01-01' }];
    const accepted = validateRank(list, undefined).activities;
    expect(accepted).not.toBe(list); // the array is copied (emptying it during rank changes nothing)...
    expect(accepted[0]).toBe(list[0]); // ...its objects are not
    class Offer {
      constructor(
        readonly id: string,
        readonly type: string,
      ) {}
    }
    const odd = [new Offer('b', 'Bar')];
    const checked = validateRank(odd, undefined).activities;
    expect(checked).not.toBe(odd);
    expect(checked).toEqual([{ id: 'b', type: 'Bar' }]);
    // A getter is read like the schema reads it: what it returns is checked.
    const withGetter = (value: unknown) => [
      {
        id: 'c',
        type: 'Bar',
        features: {
          get colour() {
            return value;
          },
        },
      },
    ];
    expect(isValidActivityList(withGetter('red'))).toBe(true);
    expect(isValidActivityList(withGetter({}))).toBe(false);
    expect(() => validateRank(withGetter(NaN), undefined)).toThrow(/features\.colour/);
    expect(() => validateRank([{ id: 'd', type: 'Bar', features: { price: Infinity } }], undefined)).toThrow(/features\.price/);
  });

  it('refuses a list that names an activity twice, naming the second place', () => {
    const list = [
      { id: 'a', type: 'Bar' },
      { id: 'b', type: 'Bar' },
      { id: 'a', type: 'Coffee House' },
    ];
    expect(() => validateRank(list, undefined)).toThrow(/activities\[2\]\.id "a" appears more than once/);
    expect(validateRank(list.slice(0, 2), undefined).activities).toHaveLength(2);
  });
});
