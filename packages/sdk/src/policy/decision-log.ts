import type { Activity } from '../types';
import type { DecisionInputs } from './explain';
import { emptyAggregates } from '@vitrine/core/features';

/** What track() may refer to: the items a decision placed, and what the signals stage kept about each. */
export interface LoggedDecision<P> {
  activities: Map<string, Activity>;
  placements?: Map<string, P>;
  /** What the model ranked with (absent for the shop's order), for explain(). */
  inputs?: DecisionInputs;
}

export const DECISIONS_KEPT = 500;
/** Bound on remembered placements across decisions (memory stays flat for huge candidate lists). */
export const PLACEMENTS_KEPT = 20_000;

/**
 * The placed items of recent decisions, for track(): only what was shown can be acted on.
 * Bounded by decisions and by placements; the oldest decisions go first, but the newest one
 * is always kept, however many items it placed.
 */
export interface DecisionLog<P> {
  remember(id: string, placedActivities: Activity[], placements?: Map<string, P>, inputs?: DecisionInputs): void;
  get(id: string): LoggedDecision<P> | undefined;
  /** Consent withdrawn: what the signals stage kept per placement goes; the placed items stay trackable. */
  dropPlacements(): void;
  /** Consent 'none': the profile and attributes kept for explain() go. */
  dropPersonalInputs(): void;
  clear(): void;
}

// A closure rather than a class: it lives in the script tag's first download, where every byte counts.
export function createDecisionLog<P>(): DecisionLog<P> {
  const decisions = new Map<string, LoggedDecision<P>>();
  let placed = 0;
  return {
    remember(id, placedActivities, placements, inputs) {
      // Copies: rank reads the page's objects without copying them, and these outlive the call.
      const activities = new Map(placedActivities.map((a) => [a.id, snapshotActivity(a)]));
      decisions.set(id, { activities, ...(placements ? { placements } : {}), ...(inputs ? { inputs } : {}) });
      placed += activities.size;
      while (decisions.size > 1 && (decisions.size > DECISIONS_KEPT || placed > PLACEMENTS_KEPT)) {
        const oldest = decisions.keys().next().value!;
        placed -= decisions.get(oldest)!.activities.size;
        decisions.delete(oldest);
      }
    },
    get: (id) => decisions.get(id),
    dropPlacements() {
      for (const d of decisions.values()) delete d.placements;
    },
    dropPersonalInputs() {
      // Consent 'none': explanations of earlier decisions keep the page context, not the profile or attributes.
      for (const d of decisions.values()) if (d.inputs) d.inputs = { ...d.inputs, user: {}, profile: emptyAggregates() };
    },
    clear() {
      decisions.clear();
      placed = 0;
    },
  };
}

/** A copy of what Vitrine reads from an activity: the page may change or reuse its objects afterwards. */
export function snapshotActivity({ id, type, features, startsAt, endsAt }: Activity): Activity {
  return {
    id,
    type,
    ...(features ? { features: { ...features } } : {}),
    ...(startsAt !== undefined ? { startsAt } : {}),
    ...(endsAt !== undefined ? { endsAt } : {}),
  };
}
