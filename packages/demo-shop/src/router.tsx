import type { AnchorHTMLAttributes, MouseEvent } from 'react';
import { createStore, useStore } from './store';

/** The shop's pages. Client-side routing with the History API; the dev server answers every path with index.html. */
export type Route =
  { page: 'home' } | { page: 'offer'; id: string } | { page: 'cart' } | { page: 'privacy' } | { page: 'not-found'; path: string };

export function parseRoute(pathname: string): Route {
  if (pathname === '/' || pathname === '') return { page: 'home' };
  if (pathname === '/cart') return { page: 'cart' };
  if (pathname === '/privacy') return { page: 'privacy' };
  const offer = /^\/offer\/([^/]+)$/.exec(pathname);
  if (offer) return { page: 'offer', id: decodeURIComponent(offer[1]) };
  return { page: 'not-found', path: pathname };
}

const location$ = createStore(typeof window === 'undefined' ? '/' : window.location.pathname);
if (typeof window !== 'undefined') window.addEventListener('popstate', () => location$.set(window.location.pathname));

export function navigate(path: string): void {
  if (path === window.location.pathname) return;
  window.history.pushState(null, '', path);
  location$.set(window.location.pathname);
  window.scrollTo(0, 0);
}

/** The current path; every page remounts when it changes (keyed by it), so each visit ranks afresh. */
export function usePath(): string {
  return useStore(location$);
}

/** An anchor that navigates in-page (plain clicks only: modified clicks open tabs as usual). */
export function Link({ to, onClick, ...rest }: AnchorHTMLAttributes<HTMLAnchorElement> & { to: string }) {
  const handle = (e: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(e);
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(to);
  };
  return <a href={to} onClick={handle} {...rest} />;
}
