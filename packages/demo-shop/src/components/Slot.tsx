import { useEffect, useRef, useState } from 'react';
import { useRanking, type FeatureRecord } from '@vitrine/react';
import type { Offer } from '../catalog';
import { budget$, dismissed$ } from '../state';
import { publishSlot, withdrawSlot } from '../slot-registry';
import { useStore } from '../store';
import { OfferCard } from './OfferCard';

export interface SlotProps {
  /** The slot's name: `data-vitrine-slot`, the QA panel's label, the `slot` context field. */
  name: string;
  title: string;
  /** Candidates, fixed for the page visit (a new list would be a new slot and rank again). */
  offers: readonly Offer[];
  /** The page's context for this slot. */
  context: FeatureRecord;
  /** Cards shown. */
  size: number;
  layout: 'hero' | 'row';
  /** Shown under the heading. */
  intro?: string;
}

/** One ranked slot: its own rank() with the page's context, the shop's order first (no flicker). */
export function Slot({ name, title, offers, context, size, layout, intro }: SlotProps) {
  const budgetMs = useStore(budget$);
  const ranking = useRanking(offers, { context, slots: size, budgetMs, slot: name });
  const dismissed = useStore(dismissed$);
  const [notice, setNotice] = useState('');
  const heading = useRef<HTMLHeadingElement>(null);
  const { phase, decision, personalized, rankedAfterMs, items } = ranking;

  useEffect(() => {
    publishSlot({
      name,
      context: context as Record<string, string | number>,
      phase,
      personalized,
      rankedAfterMs,
      decision,
      shown: items.map((o) => o.id),
    });
  }, [name, context, phase, personalized, rankedAfterMs, decision, items]);
  useEffect(() => () => withdrawSlot(name), [name]);

  const visible = items.filter((o) => !dismissed.has(o.id));
  const onDismissed = (offer: Offer) => {
    setNotice(`Hidden: ${offer.title}. You will see fewer offers like it.`);
    // The card and its buttons are gone: keep the keyboard in the slot.
    heading.current?.focus();
  };
  const headingId = `slot-${name}-title`;
  return (
    <section
      {...ranking.slotProps()}
      className={`slot slot-${layout}`}
      aria-labelledby={headingId}
      data-phase={phase}
      // For QA automation and npm run bench:storefront: mount to ranked order, as the package measured it.
      data-ranked-after-ms={rankedAfterMs === undefined ? undefined : rankedAfterMs.toFixed(1)}
    >
      <h2 id={headingId} ref={heading} tabIndex={-1}>
        {title}
      </h2>
      {intro && <p className="slot-intro">{intro}</p>}
      {visible.length > 0 ? (
        <ul className="cards" role="list">
          {visible.map((offer) => (
            <li key={offer.id}>
              <OfferCard
                offer={offer}
                ranking={ranking}
                item={decision?.items.find((i) => i.id === offer.id) ?? null}
                hero={layout === 'hero'}
                onDismissed={onDismissed}
              />
            </li>
          ))}
        </ul>
      ) : (
        <p className="muted">No more offers here for now.</p>
      )}
      <p className="visually-hidden" role="status">
        {notice}
      </p>
    </section>
  );
}
