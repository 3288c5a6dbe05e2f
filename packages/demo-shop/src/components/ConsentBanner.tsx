import { useState } from 'react';
import { CONSENT_CHOICES, useChooseConsent } from '../consent';
import { Link } from '../router';
import { consentChoice$ } from '../state';
import { useStore } from '../store';

/** Asks once (first visit); the shop's default ('profile') applies until the shopper answers. */
export function ConsentBanner() {
  const choice = useStore(consentChoice$);
  const choose = useChooseConsent();
  const [thanks, setThanks] = useState(false);
  if (choice !== null) {
    return thanks ? (
      <p className="visually-hidden" role="status">
        Saved. You can change this on the privacy page.
      </p>
    ) : null;
  }
  return (
    <aside className="consent-banner" aria-labelledby="consent-banner-title" data-testid="consent-banner">
      <h2 id="consent-banner-title">Personalized offers, kept on your device</h2>
      <p>
        This shop picks offers in your browser. Choose what it may keep. Until you choose, it keeps your activity on this device and sends
        nothing. You can change this any time on the <Link to="/privacy">privacy page</Link>.
      </p>
      <div className="consent-choices">
        {CONSENT_CHOICES.map((c) => (
          <button
            key={c.value}
            type="button"
            className={c.value === 'signals' ? '' : 'secondary'}
            data-consent={c.value}
            aria-describedby={`consent-detail-${c.value}`}
            onClick={() => {
              setThanks(true);
              void choose(c.value);
            }}
          >
            {c.label}
          </button>
        ))}
      </div>
      <ul className="consent-details">
        {CONSENT_CHOICES.map((c) => (
          <li key={c.value} id={`consent-detail-${c.value}`}>
            <strong>{c.label}:</strong> {c.detail}
          </li>
        ))}
      </ul>
    </aside>
  );
}
