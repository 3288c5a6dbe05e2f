import { lazy, Suspense, useEffect, useMemo, useRef } from 'react';
import { VitrineProvider } from '@vitrine/react';
import { ConsentBanner } from './components/ConsentBanner';
import { Header } from './components/Header';
import { QaPanel } from './components/QaPanel';
import { vitrineOptions } from './options';
import Cart from './pages/Cart';
import Home from './pages/Home';
import OfferPage from './pages/Offer';
import { Link, parseRoute, usePath, type Route } from './router';
import { backend$, effectiveConsent, qaOpen$, user$ } from './state';
import { useStore } from './store';
import { offerById } from './catalog';

// The privacy page carries the chart code (chart.js): loaded only when visited.
const Privacy = lazy(() => import('./pages/Privacy'));

/**
 * One client per backend choice: the provider reads its options once, so a new backend remounts it
 * (a new client). Consent and the shopper's attributes change on the live client instead.
 */
export function App() {
  const backend = useStore(backend$);
  const options = useMemo(() => vitrineOptions(backend, effectiveConsent(), user$.get()), [backend]);
  return (
    <VitrineProvider key={backend} options={options}>
      <Shop />
    </VitrineProvider>
  );
}

const TITLES: Record<Route['page'], string> = {
  home: 'Offers for you',
  offer: 'Offer',
  cart: 'Your cart',
  privacy: 'Your privacy',
  'not-found': 'Page not found',
};

function Shop() {
  const path = usePath();
  const route = parseRoute(path);
  const qaOpen = useStore(qaOpen$);
  const main = useRef<HTMLElement>(null);
  const firstPath = useRef(path);

  useEffect(() => {
    const offer = route.page === 'offer' ? offerById(route.id) : undefined;
    document.title = `${offer?.title ?? TITLES[route.page]} · Vitrine demo shop`;
    // After an in-page navigation, move the keyboard and screen reader to the new page's heading
    // (a lazily loaded page renders it a moment later).
    if (path === firstPath.current) return;
    firstPath.current = '';
    const root = main.current;
    if (!root) return;
    const focusHeading = () => {
      const heading = root.querySelector<HTMLElement>('h1');
      heading?.focus();
      return heading !== null;
    };
    if (focusHeading()) return;
    root.focus();
    const watch = new MutationObserver(() => focusHeading() && watch.disconnect());
    watch.observe(root, { childList: true, subtree: true });
    return () => watch.disconnect();
  }, [path]); // route is derived from path

  return (
    <>
      <Header path={path} />
      <ConsentBanner />
      <div className={qaOpen ? 'layout with-qa' : 'layout'}>
        {/* Keyed by path: every page visit mounts its slots afresh, and each ranks once. */}
        <main id="main" key={path} ref={main} tabIndex={-1}>
          <Page route={route} />
        </main>
        {qaOpen && <QaPanel />}
      </div>
      <footer className="site-footer">
        <p>
          A demo shop for Vitrine: offers are ranked in your browser by an on-device model. <Link to="/privacy">Privacy</Link>
        </p>
      </footer>
    </>
  );
}

function Page({ route }: { route: Route }) {
  switch (route.page) {
    case 'home':
      return <Home />;
    case 'offer':
      return <OfferPage id={route.id} />;
    case 'cart':
      return <Cart />;
    case 'privacy':
      return (
        <Suspense fallback={<p>Loading…</p>}>
          <Privacy />
        </Suspense>
      );
    default:
      return (
        <>
          <h1 tabIndex={-1}>Page not found</h1>
          <p>
            Nothing lives at {route.path}. <Link to="/">Go to the home page</Link>.
          </p>
        </>
      );
  }
}
