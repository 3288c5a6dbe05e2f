import { CONTEXT_FIELDS, CONTEXT_LABELS } from '../catalog';
import { Link } from '../router';
import { cart$, qaOpen$, setQaOpen, situation$ } from '../state';
import { useStore } from '../store';

const NAV = [
  { to: '/', label: 'Home' },
  { to: '/cart', label: 'Cart' },
  { to: '/privacy', label: 'Privacy' },
];

/** Site header: navigation, the shopping situation (the slots' context) and the QA panel toggle. */
export function Header({ path }: { path: string }) {
  const cartCount = useStore(cart$).length;
  const qaOpen = useStore(qaOpen$);
  return (
    <header className="site-header">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <div className="bar">
        <Link to="/" className="brand">
          Vitrine demo shop
        </Link>
        <nav aria-label="Main">
          <ul role="list">
            {NAV.map((n) => (
              <li key={n.to}>
                <Link to={n.to} aria-current={path === n.to ? 'page' : undefined}>
                  {n.label}
                  {n.to === '/cart' && cartCount > 0 && <span className="count"> ({cartCount})</span>}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <button
          type="button"
          className="qa-toggle"
          aria-expanded={qaOpen}
          aria-controls="qa-panel"
          data-testid="qa-toggle"
          onClick={() => setQaOpen(!qaOpen)}
        >
          QA panel
        </button>
      </div>
      <SituationPicker />
    </header>
  );
}

/** The shopping situation (the coupon model's context fields): what every slot ranks for. */
function SituationPicker() {
  const situation = useStore(situation$);
  const { weather, temperature, time, passanger, destination } = situation;
  const summary = `${weather}, ${temperature}°F, ${time}, with ${passanger}, heading to ${destination}`;
  return (
    <details className="situation">
      <summary>
        Shopping situation: <span data-testid="situation-summary">{summary}</span>
      </summary>
      <form className="situation-form" data-testid="situation" onSubmit={(e) => e.preventDefault()}>
        {Object.entries(CONTEXT_FIELDS).map(([name, values]) => (
          <label key={name}>
            {CONTEXT_LABELS[name] ?? name}
            <select name={name} value={situation[name]} onChange={(e) => situation$.set({ ...situation, [name]: e.target.value })}>
              {values.map((v) => (
                <option key={v} value={v}>
                  {name === 'toCoupon_GEQ15min' || name === 'direction_same' ? (v === '1' ? 'yes' : 'no') : v}
                </option>
              ))}
            </select>
          </label>
        ))}
      </form>
    </details>
  );
}
