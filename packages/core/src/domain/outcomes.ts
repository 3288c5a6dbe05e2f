/** The one list of what a shopper can do with a placed activity; types and schemas derive from it. */
export const OUTCOMES = ['view', 'click', 'add_to_cart', 'purchase', 'dismiss'] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** Outcomes that count as accepting the offer (profile counts, training labels, rewards). */
export const POSITIVE_OUTCOMES: ReadonlySet<Outcome> = new Set<Outcome>(['click', 'add_to_cart', 'purchase']);

export function isPositive(outcome: Outcome): boolean {
  return POSITIVE_OUTCOMES.has(outcome);
}

/** Bounded rewards: what each tracked outcome is worth, in [0, 1]. */
export const REWARDS = Object.fromEntries(OUTCOMES.map((o) => [o, isPositive(o) ? 1 : 0])) as Readonly<Record<Outcome, 0 | 1>>;
