import { useState } from 'react';
import { CATALOG, FORMAT_LABELS, TYPE_LABELS, offerById, validity } from '../catalog';
import { Slot } from '../components/Slot';
import { usePageContext } from '../page-context';
import { Link } from '../router';
import { addToCart, cart$, dismissed$ } from '../state';
import { useStore } from '../store';

/** An offer's page with a "More like this" slot ranked for it (the context says which type is viewed). */
export default function OfferPage({ id }: { id: string }) {
  const offer = offerById(id);
  const inCart = useStore(cart$).some((l) => l.offerId === id);
  const [others] = useState(() => CATALOG.filter((o) => o.id !== id && !dismissed$.get().has(o.id)));
  const context = usePageContext('offer', 'more-like-this', offer ? { viewedType: offer.type, viewedFormat: offer.features.format } : {});
  if (!offer) {
    return (
      <>
        <h1 tabIndex={-1} className="page-title">
          Offer not found
        </h1>
        <p>
          This offer has ended or never existed. <Link to="/">See today&apos;s offers</Link>.
        </p>
      </>
    );
  }
  return (
    <>
      <article className="offer-detail" aria-labelledby="offer-title">
        <p className="kicker">
          <span>{TYPE_LABELS[offer.type] ?? offer.type}</span>
          <span className={`format format-${offer.features.format}`}>{FORMAT_LABELS[offer.features.format]}</span>
        </p>
        <h1 id="offer-title" tabIndex={-1} className="page-title">
          {offer.title}
        </h1>
        <p className="lead">{offer.blurb}</p>
        <p className="validity">{validity(offer)}</p>
        <button type="button" data-action="add" onClick={() => addToCart(offer.id, null)}>
          {inCart ? 'In your cart' : 'Add to cart'}
        </button>
      </article>
      <Slot name="more-like-this" title="More like this" layout="row" size={3} offers={others} context={context} />
    </>
  );
}
