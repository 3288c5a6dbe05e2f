/** Merchant segments the policy, ingest and report tests share. */
import type { Segment } from '@vitrine/core/policy';

export const COFFEE_LOVERS: Segment = {
  id: 'coffee-lovers',
  name: 'Coffee lovers',
  when: { history: { attribute: 'coupon=Coffee House', minAnswers: 3, minAcceptance: 0.5 } },
};
export const NEWCOMERS: Segment = { id: 'new', name: 'New shoppers', when: { history: { maxAnswers: 0 } } };
