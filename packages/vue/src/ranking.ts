import type { Activity, Decision, Explanation, FeatureRecord, Outcome, VitrineStatus } from '@vitrine/sdk';
import {
  CARD_ATTRIBUTE,
  SLOT_ATTRIBUTE,
  createSlotRanking,
  defaultSlot,
  slotKey,
  track,
  type ClientHandle,
  type SlotOptions,
  type SlotPhase,
  type SlotRanking,
  type SlotSnapshot,
} from '@vitrine/storefront';
import {
  computed,
  onBeforeUnmount,
  onMounted,
  shallowRef,
  toValue,
  watch,
  type ComponentPublicInstance,
  type ComputedRef,
  type MaybeRefOrGetter,
} from 'vue';
import { injectVitrine } from './plugin';

/** "Why this offer" for one card (what the SDK's `explain()` returns). */
export type { Explanation };

export interface UseRankingOptions {
  /** The slot's name, rendered as `data-vitrine-slot` (default `'default'`). */
  slot?: string;
  /** The page context this slot ranks for (page type, category, ...); a new context ranks again. */
  context?: MaybeRefOrGetter<FeatureRecord | undefined>;
  /** How many cards the slot shows (default: all the activities). */
  slots?: number;
  /** Time from the slot's mount to its ranked order, ms (default 150); after it the shop's order stays. */
  budgetMs?: number;
}

/** A function ref for a card's root element (or component): `:ref="cardRef(activity.id)"`. */
export type CardRef = (el: Element | ComponentPublicInstance | null) => void;

/** What `cardAttrs()` gives a card's root element. */
export interface CardAttrs {
  [CARD_ATTRIBUTE]: string;
  ref: CardRef;
}

/** What `useRanking()` returns. Destructure it in `<script setup>` so that templates unwrap the refs. */
export interface Ranking<A extends Activity = Activity> {
  /** What to render, in order: the shop's order first, the ranked one if it arrived within the budget. */
  items: ComputedRef<readonly A[]>;
  /** The decision behind `items` when ranked (views and clicks are tracked against it), else null. */
  decision: ComputedRef<Decision | null>;
  /** The client's status (null on the server and before the client exists). */
  status: ComputedRef<VitrineStatus | null>;
  /** True when the model ordered the items (false for the shop's order and for a rules decision). */
  personalized: ComputedRef<boolean>;
  /** 'default' (waiting within the budget), 'ranked', 'missed' (budget ran out: shop's order stays), 'failed'. */
  phase: ComputedRef<SlotPhase>;
  /** Time from the slot's mount to its ranked order, ms (only when ranked). */
  rankedAfterMs: ComputedRef<number | undefined>;
  /** Why the shop's order stays ('missed' and 'failed'). */
  reason: ComputedRef<string | undefined>;
  /** For the slot's root element: `v-bind="slotAttrs"` (`data-vitrine-slot`). */
  slotAttrs: Readonly<Record<typeof SLOT_ATTRIBUTE, string>>;
  /**
   * For a card's root element: `v-bind="cardAttrs(activity.id)"` renders `data-vitrine-activity` (on
   * the server too) and registers the card for view tracking. Do not put another `ref` on it.
   */
  cardAttrs(card: A | string): CardAttrs;
  /** Registers a card for view tracking (and sets `data-vitrine-activity`) where cardAttrs does not fit. */
  cardRef(card: A | string): CardRef;
  /** Records a click on a card of the ranked order (nothing when the shop's order is shown). Never rejects. */
  trackClick(activityId: string): Promise<void>;
  /** Records "not for me" on a card of the ranked order. Never rejects; hiding the card is the shop's choice. */
  dismiss(activityId: string): Promise<void>;
  /**
   * Why the ranked order placed this card, computed on the device. Null when there is nothing to
   * explain (the shop's order is shown, or no client); rejects with the SDK's VitrineError otherwise.
   */
  explain(activityId: string): Promise<Explanation | null>;
}

const asElement = (target: Element | ComponentPublicInstance | null): Element | null => {
  const node: unknown = target && '$el' in target ? target.$el : target;
  return node && (node as Node).nodeType === 1 ? (node as Element) : null;
};

/**
 * Ranks one slot under the no-flicker rule. The first render (on the server, at hydration, in the
 * browser) shows the shop's own order, `activities` cut to `slots`. On mount the slot asks the app's
 * client to rank; the ranked order replaces the shop's only if it arrives within `budgetMs` of the
 * mount (default 150 ms), else the shop's order stays until the slot mounts again. The order changes
 * at most once per inputs: new activity ids, a new context or another `slots` start over (shop's
 * order, then a fresh budget), as a navigation would.
 *
 * Views: a card registered with `cardAttrs`/`cardRef` is tracked as viewed once per decision when at
 * least half of it was visible for one second without a break.
 */
export function useRanking<A extends Activity>(activities: MaybeRefOrGetter<readonly A[]>, options: UseRankingOptions = {}): Ranking<A> {
  const app = injectVitrine('useRanking');
  const slotOptions = (): SlotOptions => ({ context: toValue(options.context), slots: options.slots, budgetMs: options.budgetMs });
  const snapshot = shallowRef<SlotSnapshot<A>>(defaultSlot(toValue(activities), options.slots));

  let handle: ClientHandle | null = null;
  let ranking: SlotRanking<A> | null = null;
  let stopRanking: (() => void) | null = null;
  /** The rendered cards by activity id, and what stops watching each for the current decision. */
  const cards = new Map<string, Element>();
  const watching = new Map<string, () => void>();
  const refs = new Map<string, CardRef>();

  const watchCard = (activityId: string, element: Element) => {
    const decision = snapshot.value.decision;
    if (decision) watching.set(activityId, app.views().observe(element, decision.id, activityId));
  };
  const unwatchCard = (activityId: string) => {
    watching.get(activityId)?.();
    watching.delete(activityId);
  };
  const setCard = (activityId: string, element: Element | null) => {
    if (cards.get(activityId) === element) return;
    unwatchCard(activityId);
    if (!element) {
      cards.delete(activityId);
      return;
    }
    if (element.getAttribute(CARD_ATTRIBUTE) !== activityId) element.setAttribute(CARD_ATTRIBUTE, activityId);
    cards.set(activityId, element);
    watchCard(activityId, element);
  };

  const startSlot = () => {
    ranking?.dispose();
    stopRanking?.();
    const next = createSlotRanking(handle!, toValue(activities), slotOptions());
    ranking = next;
    stopRanking = next.subscribe(() => (snapshot.value = next.snapshot()));
    snapshot.value = next.snapshot();
    next.start();
  };

  // A new decision (or none) changes what each rendered card is watched for.
  watch(
    () => snapshot.value.decision,
    () => {
      for (const activityId of [...watching.keys()]) unwatchCard(activityId);
      for (const [activityId, element] of cards) watchCard(activityId, element);
    },
  );
  // New inputs are a new slot; before mount they only change the shop's order that renders.
  watch(
    () => slotKey(toValue(activities), slotOptions()),
    () => {
      if (handle) startSlot();
      else snapshot.value = defaultSlot(toValue(activities), options.slots);
    },
  );

  onMounted(() => {
    handle = app.connect();
    startSlot();
  });
  onBeforeUnmount(() => {
    ranking?.dispose();
    stopRanking?.();
    for (const activityId of [...watching.keys()]) unwatchCard(activityId);
    cards.clear();
    ranking = stopRanking = null;
  });

  const record = (activityId: string, outcome: Outcome): Promise<void> => {
    const decision = snapshot.value.decision;
    return decision && handle ? track(handle, decision.id, activityId, outcome) : Promise.resolve();
  };
  const cardRef = (card: A | string): CardRef => {
    const activityId = typeof card === 'string' ? card : card.id;
    let ref = refs.get(activityId);
    if (!ref) {
      // One function per card: a new function each render would make Vue unset and set the ref every time.
      ref = (target) => setCard(activityId, asElement(target));
      refs.set(activityId, ref);
    }
    return ref;
  };

  return {
    // The shop's latest objects for the shown ids (new objects with the same ids do not rank again).
    items: computed(() => {
      const latest = new Map(toValue(activities).map((a) => [a.id, a]));
      return snapshot.value.items.map((a) => latest.get(a.id) ?? a);
    }),
    decision: computed(() => snapshot.value.decision),
    status: computed(() => app.state.value.status),
    personalized: computed(() => snapshot.value.personalized),
    phase: computed(() => snapshot.value.phase),
    rankedAfterMs: computed(() => snapshot.value.rankedAfterMs),
    reason: computed(() => snapshot.value.reason),
    slotAttrs: Object.freeze({ [SLOT_ATTRIBUTE]: options.slot ?? 'default' }),
    cardAttrs: (card) => ({ [CARD_ATTRIBUTE]: typeof card === 'string' ? card : card.id, ref: cardRef(card) }),
    cardRef,
    trackClick: (activityId) => record(activityId, 'click'),
    dismiss: (activityId) => record(activityId, 'dismiss'),
    async explain(activityId) {
      const decision = snapshot.value.decision;
      const client = decision && handle ? await handle.ready : null;
      return decision && client ? client.explain(decision.id, activityId) : null;
    },
  };
}
