import type { Decision } from '@vitrine/sdk';
import { createStore } from './store';

/** What the QA panel shows for one rendered slot. */
export interface SlotReport {
  name: string;
  /** The context the slot ranked with (the page's). */
  context: Record<string, string | number>;
  phase: string;
  personalized: boolean;
  rankedAfterMs?: number;
  decision: Decision | null;
  /** The ids the slot renders, in order (the shop's order until ranked). */
  shown: string[];
}

/** The slots on the current page, by name: each Slot publishes its state here while mounted. */
export const slotReports$ = createStore<ReadonlyMap<string, SlotReport>>(new Map());

export function publishSlot(report: SlotReport): void {
  slotReports$.set((m) => new Map(m).set(report.name, report));
}

export function withdrawSlot(name: string): void {
  slotReports$.set((m) => {
    if (!m.has(name)) return m;
    const next = new Map(m);
    next.delete(name);
    return next;
  });
}
