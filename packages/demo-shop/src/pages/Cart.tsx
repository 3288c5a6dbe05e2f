import { useState } from 'react';
import { useVitrine } from '@vitrine/react';
import { CATALOG, TYPE_LABELS, offerById, validity } from '../catalog';
import { Slot } from '../components/Slot';
import { usePageContext } from '../page-context';
import { Link } from '../router';
import { cart$, dismissed$, removeFromCart } from '../state';
import { useStore } from '../store';

/** The cart and checkout, with a "Complete your order" slot ranked for what is in it. */
export default function Cart() {
  const { client } = useVitrine();
  const lines = useStore(cart$);
  const [placed, setPlaced] = useState<number | null>(null);
  // Fixed for this visit: adding a suggestion to the cart must not re-rank the slot under the shopper.
  const [suggestions] = useState(() => {
    const inCart = new Set(cart$.get().map((l) => l.offerId));
    return CATALOG.filter((o) => !inCart.has(o.id) && !dismissed$.get().has(o.id));
  });
  const [cartInfo] = useState(() => ({
    cartSize: cart$.get().length,
    cartTypes: [...new Set(cart$.get().map((l) => offerById(l.offerId)?.type ?? ''))].sort().join(','),
  }));
  const context = usePageContext('cart', 'complete-your-order', cartInfo);

  const placeOrder = async () => {
    const bought = cart$.get();
    // A purchase is the strongest reward: tracked against the decision that placed each offer.
    for (const line of bought) {
      if (!line.decisionId || !client) continue;
      try {
        await client.track(line.decisionId, line.offerId, 'purchase');
      } catch (err) {
        console.warn('[demo] purchase not tracked', err); // e.g. the decision is too old; the order stands
      }
    }
    cart$.set([]);
    setPlaced(bought.length);
  };

  return (
    <>
      <h1 tabIndex={-1} className="page-title">
        Your cart
      </h1>
      {placed !== null && (
        <p className="notice" role="status">
          Order placed: {placed} {placed === 1 ? 'offer' : 'offers'}. Enjoy!
        </p>
      )}
      {lines.length === 0 ? (
        placed === null && (
          <p>
            Your cart is empty. <Link to="/">Find an offer</Link>.
          </p>
        )
      ) : (
        <section aria-labelledby="checkout-title" className="checkout">
          <h2 id="checkout-title">Checkout</h2>
          <ul className="cart-lines" role="list">
            {lines.map((line) => {
              const offer = offerById(line.offerId);
              if (!offer) return null;
              return (
                <li key={line.offerId} data-cart-line={line.offerId}>
                  <span>
                    <Link to={`/offer/${offer.id}`}>{offer.title}</Link>
                    <span className="muted">
                      {' '}
                      · {TYPE_LABELS[offer.type] ?? offer.type} · {validity(offer)}
                    </span>
                  </span>
                  <button type="button" className="secondary" onClick={() => removeFromCart(offer.id)} aria-label={`Remove ${offer.title}`}>
                    Remove
                  </button>
                </li>
              );
            })}
          </ul>
          <button type="button" data-action="place-order" onClick={() => void placeOrder()}>
            Place order
          </button>
        </section>
      )}
      <Slot
        name="complete-your-order"
        title="Complete your order"
        layout="row"
        size={3}
        offers={suggestions}
        context={context}
        intro="Goes well with what you picked."
      />
    </>
  );
}
