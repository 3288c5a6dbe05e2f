import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { COUPON_CATALOG } from '@vitrine/models/datasets/coupons';
import { parsePolicy } from '../src/policy/validate';

/** The merchant policy `npm start` publishes (VITRINE_POLICY_FILE): a bad file would stop the demo's server. */
const file = new URL('../../demo-shop/policy.json', import.meta.url);

describe("the demo shop's policy file", () => {
  it('passes the admin endpoint checks, and paces only activities the server can count', () => {
    const policy = parsePolicy(JSON.parse(readFileSync(file, 'utf8')));
    expect(policy.segments.map((s) => s.id)).toEqual(['new', 'coffee-lovers', 'lapsed']);
    // Ingest counts only catalog activities: a pacing budget on anything else would never move.
    const catalog = new Set(COUPON_CATALOG.map((a) => a.id));
    for (const budget of policy.rules.pacing ?? []) expect(catalog.has(budget.activity), budget.activity).toBe(true);
  });
});
