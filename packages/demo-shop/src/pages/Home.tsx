import { useState } from 'react';
import { COUPON_OFFERS, PROMO_OFFERS } from '../catalog';
import { Slot } from '../components/Slot';
import { usePageContext } from '../page-context';
import { dismissed$ } from '../state';

/** Offers the shopper has not turned down in this visit, read once per page visit. */
const notDismissed = <T extends { id: string }>(list: readonly T[]) => list.filter((o) => !dismissed$.get().has(o.id));

export default function Home() {
  // The candidates are fixed for this visit: a card hidden by "Not for me" must not re-rank the slot.
  const [promos] = useState(() => notDismissed(PROMO_OFFERS));
  const [coupons] = useState(() => notDismissed(COUPON_OFFERS));
  const heroContext = usePageContext('home', 'hero');
  const stripContext = usePageContext('home', 'offers-for-you');
  return (
    <>
      <h1 tabIndex={-1} className="page-title">
        Good deals around you
      </h1>
      <p className="lead">Coupons for bars, coffee houses, restaurants and take-away, picked on this device for your situation.</p>
      <Slot
        name="hero"
        title="Today's highlight"
        layout="hero"
        size={1}
        offers={promos}
        context={heroContext}
        intro="New promotions in town."
      />
      <Slot name="offers-for-you" title="Offers for you" layout="row" size={4} offers={coupons} context={stripContext} />
    </>
  );
}
