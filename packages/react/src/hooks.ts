import { useCallback, useEffect, useMemo, useSyncExternalStore } from 'react';
import type { Activity, Consent, Decision, Explanation, FeatureRecord, Vitrine, VitrineError, VitrineStatus } from '@vitrine/sdk';
import { createSlotRanking, slotKey, track, CARD_ATTRIBUTE, SLOT_ATTRIBUTE, type SlotPhase } from '@vitrine/storefront';
import { useHost } from './provider';

export interface VitrineState {
  /** The page's client; null on the server and until it has been created. */
  client: Vitrine | null;
  status: VitrineStatus | null;
  /** The shopper's consent (the shop's default until the client says otherwise). */
  consent: Consent;
  /** Changes the consent at once ('none' erases what was stored); never rejects. */
  setConsent: (consent: Consent) => Promise<void>;
  /** Why the client could not be created (invalid options). */
  error: VitrineError | null;
}

/** The page's client and its status and consent; re-renders when they change. */
export function useVitrine(): VitrineState {
  const host = useHost();
  const state = useSyncExternalStore(host.subscribe, host.state, () => host.initial);
  const setConsent = useCallback((consent: Consent) => host.connected.then((handle) => handle.setConsent(consent)), [host]);
  return { client: state.client, status: state.status, consent: state.consent, error: state.error, setConsent };
}

export interface UseRankingOptions {
  /** The page's context for this slot (page type, category, cart value, ...). */
  context?: FeatureRecord;
  /** How many cards the slot shows (default: all the activities). */
  slots?: number;
  /** Time from mount to the ranked order, ms (default 150); after it the shop's order stays. */
  budgetMs?: number;
  /** The slot's name for `data-vitrine-slot` (default 'default'). */
  slot?: string;
}

export interface CardProps {
  ref: (element: Element | null) => void;
  [CARD_ATTRIBUTE]: string;
}

export interface Ranking<A extends Activity> {
  /** What to render, in order: the shop's order first, the ranked one if it came within the budget. */
  items: A[];
  /** The decision behind `items`; null while (or when it stays) the shop's order. */
  decision: Decision | null;
  status: VitrineStatus | null;
  /** True when the model ordered `items`. */
  personalized: boolean;
  phase: SlotPhase;
  /** Time from mount to the ranked order, ms (when ranked). */
  rankedAfterMs: number | undefined;
  /** Spread on each card: counts its views (50% visible for 1 s) and marks it `data-vitrine-activity`. */
  cardProps: (item: A | string) => CardProps;
  /** Spread on the slot's root: `data-vitrine-slot`. */
  slotProps: () => { [SLOT_ATTRIBUTE]: string };
  /** Records a click on a card of this decision (nothing without a decision); never rejects. */
  trackClick: (activityId: string) => Promise<void>;
  /** Records "not for me" on a card of this decision; never rejects. */
  dismiss: (activityId: string) => Promise<void>;
  /** Why the card was placed where it is; null without a decision. Rejects with a VitrineError. */
  explain: (activityId: string) => Promise<Explanation | null>;
}

/**
 * Ranks `activities` for one slot under the no-flicker rule (see README). Inputs are compared by
 * value (ids, context, slots, budget): re-renders with new arrays do not rank again; new inputs
 * are a new slot. Server render and hydration give the shop's order.
 */
export function useRanking<A extends Activity>(activities: readonly A[], options: UseRankingOptions = {}): Ranking<A> {
  const host = useHost();
  const { context, slots, budgetMs, slot = 'default' } = options;
  const key = slotKey(activities, { context, slots, budgetMs });
  // Keyed by value on purpose: the arrays' identities change on every render of most shops.
  const ranking = useMemo(() => createSlotRanking(host, activities, { context, slots, budgetMs }), [host, key]);
  useEffect(() => {
    ranking.start();
    return () => ranking.dispose();
  }, [ranking]);
  const snapshot = useSyncExternalStore(ranking.subscribe, ranking.snapshot, ranking.snapshot);
  const { status } = useSyncExternalStore(host.subscribe, host.state, () => host.initial);
  const decision = snapshot.decision;

  // The latest objects for the ranked ids (a shop may pass fresh objects with the same ids).
  const items = useMemo(() => {
    const latest = new Map(activities.map((a) => [a.id, a]));
    return snapshot.items.map((a) => latest.get(a.id) ?? a);
  }, [snapshot, activities]);

  // One ref per card and decision, so re-renders neither restart a card's dwell time nor double-count it.
  const refs = useMemo(() => new Map<string, CardProps['ref']>(), [decision]);
  const cardProps = useCallback(
    (item: A | string): CardProps => {
      const id = typeof item === 'string' ? item : item.id;
      let ref = refs.get(id);
      if (!ref) {
        let stop: (() => void) | undefined;
        ref = (element) => {
          stop?.();
          stop = element && decision ? host.views().observe(element, decision.id, id) : undefined;
        };
        refs.set(id, ref);
      }
      return { ref, [CARD_ATTRIBUTE]: id };
    },
    [refs, decision, host],
  );
  const slotProps = useCallback(() => ({ [SLOT_ATTRIBUTE]: slot }), [slot]);
  const record = useCallback(
    (activityId: string, outcome: 'click' | 'dismiss') => (decision ? track(host, decision.id, activityId, outcome) : Promise.resolve()),
    [host, decision],
  );
  const trackClick = useCallback((activityId: string) => record(activityId, 'click'), [record]);
  const dismiss = useCallback((activityId: string) => record(activityId, 'dismiss'), [record]);
  const explain = useCallback(
    async (activityId: string) => {
      const client = decision && (await host.ready);
      return client && decision ? client.explain(decision.id, activityId) : null;
    },
    [host, decision],
  );

  return {
    items,
    decision,
    status,
    personalized: snapshot.personalized,
    phase: snapshot.phase,
    rankedAfterMs: snapshot.rankedAfterMs,
    cardProps,
    slotProps,
    trackClick,
    dismiss,
    explain,
  };
}
