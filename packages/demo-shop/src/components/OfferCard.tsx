import { useId, useState } from 'react';
import type { Explanation, RankedItem, Ranking } from '@vitrine/react';
import { FORMAT_LABELS, TYPE_LABELS, validity, type Offer } from '../catalog';
import { Link } from '../router';
import { addToCart, cart$, dismiss } from '../state';
import { useStore } from '../store';

/** How each input group of "Why this offer" reads to a shopper. */
const GROUP_LABELS: Record<Explanation['reasons'][number]['group'], string> = {
  context: 'Your situation and this page',
  history: 'What you did in this shop',
  shopper: 'Your details',
  offer: 'The offer itself',
  exploration: 'Trying something new',
};

type Why =
  { state: 'closed' } | { state: 'loading' } | { state: 'shown'; explanation: Explanation | null } | { state: 'error'; message: string };

const points = (contribution: number) => {
  const p = Math.round(contribution * 1000) / 10;
  return p === 0 ? '' : ` (${p > 0 ? '+' : ''}${p} points)`;
};

interface OfferCardProps {
  offer: Offer;
  ranking: Ranking<Offer>;
  /** The ranked item behind the card (null in the shop's order). */
  item: RankedItem | null;
  hero: boolean;
  onDismissed: (offer: Offer) => void;
}

/** An offer card: "Get offer" (a click), "Not for me" (a dismiss) and "Why this offer" (explain). */
export function OfferCard({ offer, ranking, item, hero, onDismissed }: OfferCardProps) {
  const id = useId();
  const titleId = `${id}-title`;
  const whyId = `${id}-why`;
  const inCart = useStore(cart$).some((l) => l.offerId === offer.id);
  const [why, setWhy] = useState<Why>({ state: 'closed' });
  const open = why.state !== 'closed';

  const getOffer = () => {
    addToCart(offer.id, ranking.decision?.id ?? null);
    void ranking.trackClick(offer.id);
  };
  const notForMe = () => {
    void ranking.dismiss(offer.id);
    dismiss(offer.id);
    onDismissed(offer);
  };
  const toggleWhy = async () => {
    if (open) return setWhy({ state: 'closed' });
    setWhy({ state: 'loading' });
    try {
      setWhy({ state: 'shown', explanation: await ranking.explain(offer.id) });
    } catch (err) {
      setWhy({ state: 'error', message: err instanceof Error ? err.message : String(err) });
    }
  };

  return (
    <article {...ranking.cardProps(offer)} className={hero ? 'card card-hero' : 'card'} aria-labelledby={titleId}>
      <p className="kicker">
        <span>{TYPE_LABELS[offer.type] ?? offer.type}</span>
        <span className={`format format-${offer.features.format}`}>{FORMAT_LABELS[offer.features.format]}</span>
        {item?.coldStart && <span className="badge">New</span>}
      </p>
      <h3 id={titleId} className="card-title">
        <Link to={`/offer/${offer.id}`} onClick={() => void ranking.trackClick(offer.id)}>
          {offer.title}
        </Link>
      </h3>
      <p className="blurb">{offer.blurb}</p>
      <p className="validity">{validity(offer)}</p>
      <div className="actions">
        <button type="button" data-action="get" aria-describedby={titleId} onClick={getOffer}>
          {inCart ? 'In your cart' : 'Get offer'}
        </button>
        <button type="button" data-action="dismiss" className="secondary" aria-describedby={titleId} onClick={notForMe}>
          Not for me
        </button>
      </div>
      <button
        type="button"
        data-action="why"
        className="why-toggle"
        aria-expanded={open}
        aria-controls={whyId}
        aria-describedby={titleId}
        onClick={() => void toggleWhy()}
      >
        Why this offer
      </button>
      <div id={whyId} className="why" hidden={!open} data-testid="why">
        {why.state === 'loading' && <p>Working it out on your device…</p>}
        {why.state === 'error' && <p>Sorry, this offer cannot explain itself right now ({why.message}).</p>}
        {why.state === 'shown' && <WhyText explanation={why.explanation} />}
      </div>
    </article>
  );
}

function WhyText({ explanation }: { explanation: Explanation | null }) {
  if (!explanation) {
    return <p>This is the shop&apos;s usual order: these offers were not personalized on this visit.</p>;
  }
  return (
    <>
      <p className="why-summary">{explanation.summary}</p>
      {explanation.reasons.length > 0 && (
        <ul className="why-reasons">
          {explanation.reasons.map((r, i) => (
            <li key={`${r.group}-${i}`} data-group={r.group}>
              <span className="why-group">{GROUP_LABELS[r.group]}:</span> {r.text}
              {points(r.contribution)}
            </li>
          ))}
        </ul>
      )}
      {explanation.coldStart && (
        <p className="why-note">This offer is new to the shop: it was matched on its type and how long it is valid.</p>
      )}
      <p className="why-note">Worked out on this device; nothing was sent.</p>
    </>
  );
}
