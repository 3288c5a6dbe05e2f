import { useMemo } from 'react';
import { situation$, situationContext } from './state';
import { useStore } from './store';

/**
 * A slot's rank() context: the shopping situation (the model's context fields, from the header's
 * picker) plus where the slot is (page, slot, and what the page is about). The extra fields are
 * the shop's own; the model reads the fields it knows and the QA panel shows them all.
 */
export function usePageContext(page: string, slot: string, extra: Record<string, string | number> = {}) {
  const situation = useStore(situation$);
  const extraKey = JSON.stringify(extra);
  // Keyed by value: callers pass a fresh `extra` object on every render.
  return useMemo(() => ({ ...situationContext(situation), page, slot, ...extra }), [situation, page, slot, extraKey]);
}
