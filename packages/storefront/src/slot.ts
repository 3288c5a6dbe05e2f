import type { Activity, Decision, FeatureRecord, Vitrine } from '@vitrine/sdk';

/** Time from a slot's mount to its ranked order; after it the shop's order stays (see README). */
export const DEFAULT_BUDGET_MS = 150;

/**
 * - `default`: the shop's order, waiting for the rank within the budget;
 * - `ranked`: the rank arrived in time and its order is shown (personalized unless it degraded to rules);
 * - `missed`: the budget ran out first; the shop's order stays until the next mount;
 * - `failed`: no client or the rank rejected; the shop's order stays.
 */
export type SlotPhase = 'default' | 'ranked' | 'missed' | 'failed';

export interface SlotSnapshot<A extends Activity = Activity> {
  readonly items: readonly A[];
  /** The decision behind `items` (views and clicks are tracked against it); null unless ranked. */
  readonly decision: Decision | null;
  /** True when the model ordered the items (false for the shop's order and for a rules decision). */
  readonly personalized: boolean;
  readonly phase: SlotPhase;
  /** Time from start() to the ranked order, ms (only when ranked). */
  readonly rankedAfterMs?: number;
  /** Why the shop's order stays ('missed' and 'failed'). */
  readonly reason?: string;
}

export interface SlotOptions {
  /** The page's context for this slot (page type, category, ...). */
  context?: FeatureRecord;
  /** How many cards the slot shows (default: all). */
  slots?: number;
  /** Time allowed from start() to the ranked order (default DEFAULT_BUDGET_MS). */
  budgetMs?: number;
}

/** Anything that will hand over the page's client: a ClientHandle or a binding's pending one. */
export interface ClientSource {
  readonly ready: Promise<Vitrine | null>;
}

export interface SlotRanking<A extends Activity = Activity> {
  /** The same object until the slot's state changes (fit for useSyncExternalStore / shallowRef). */
  snapshot(): SlotSnapshot<A>;
  subscribe(listener: () => void): () => void;
  /** Starts the budget and the rank; later calls do nothing (StrictMode's double effects rank once). */
  start(): void;
  /** Stops the slot one macrotask later unless start() is called again in between (StrictMode remount). */
  dispose(): void;
}

/** The shop's own order as the slot shows it first: what SSR, hydration and a missed budget render. */
export function defaultSlot<A extends Activity>(activities: readonly A[], slots?: number): SlotSnapshot<A> {
  return {
    items: slots === undefined ? activities : activities.slice(0, Math.max(0, slots)),
    decision: null,
    personalized: false,
    phase: 'default',
  };
}

/** A key that changes only when the slot's inputs do (ids, context, slots), not with new array identities. */
export function slotKey(activities: readonly Activity[], options: SlotOptions = {}): string {
  return JSON.stringify([activities.map((a) => a.id), options.context ?? null, options.slots ?? null, options.budgetMs ?? null]);
}

const monotonicNow = (): number => (typeof performance !== 'undefined' ? performance.now() : Date.now());

/**
 * One slot's ranking under the no-flicker rule: the shop's order at once; the ranked order replaces
 * it only if rank() resolves within `budgetMs` of start(); otherwise the shop's order stays (phase
 * 'missed', no decision, so nothing is tracked against a decision the shopper never saw). The
 * order changes at most once and never after the budget. Creating it has no side effects.
 */
export function createSlotRanking<A extends Activity>(
  source: ClientSource,
  activities: readonly A[],
  options: SlotOptions = {},
  now: () => number = monotonicNow,
): SlotRanking<A> {
  const budgetMs = options.budgetMs ?? DEFAULT_BUDGET_MS;
  const listeners = new Set<() => void>();
  let snapshot = defaultSlot(activities, options.slots);
  let started = false;
  let stopped = false;
  let budgetTimer: ReturnType<typeof setTimeout> | undefined;
  let disposeTimer: ReturnType<typeof setTimeout> | undefined;

  const settle = (next: SlotSnapshot<A>) => {
    if (stopped || snapshot.phase !== 'default') return;
    snapshot = next;
    if (budgetTimer !== undefined) clearTimeout(budgetTimer);
    for (const listener of [...listeners]) listener();
  };
  const miss = () => settle({ ...snapshot, phase: 'missed', reason: `no ranked order within ${budgetMs} ms` });
  const fail = (reason: string) => settle({ ...snapshot, phase: 'failed', reason });

  const rank = async (startedAt: number) => {
    let client: Vitrine | null;
    try {
      client = await source.ready;
    } catch {
      client = null;
    }
    // No rank once the budget is gone: its order could not be shown anyway.
    if (stopped || snapshot.phase !== 'default') return;
    if (!client) return fail('no Vitrine client');
    if (now() - startedAt > budgetMs) return miss();
    let decision: Decision;
    try {
      decision = await client.rank([...activities], { context: options.context, slots: options.slots });
    } catch (error) {
      return fail(error instanceof Error ? error.message : String(error));
    }
    const rankedAfterMs = now() - startedAt;
    if (rankedAfterMs > budgetMs) return miss();
    const byId = new Map(activities.map((a) => [a.id, a]));
    const items = decision.items.map((item) => byId.get(item.id)).filter((a): a is A => a !== undefined);
    settle({ items, decision, personalized: decision.backend !== 'rules', phase: 'ranked', rankedAfterMs });
  };

  return {
    snapshot: () => snapshot,
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    start() {
      if (disposeTimer !== undefined) {
        clearTimeout(disposeTimer);
        disposeTimer = undefined;
      }
      if (started || stopped) return;
      started = true;
      const startedAt = now();
      budgetTimer = setTimeout(miss, budgetMs);
      void rank(startedAt);
    },
    dispose() {
      if (stopped || disposeTimer !== undefined) return;
      disposeTimer = setTimeout(() => {
        disposeTimer = undefined;
        stopped = true;
        if (budgetTimer !== undefined) clearTimeout(budgetTimer);
      }, 0);
    },
  };
}
