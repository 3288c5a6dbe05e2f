/** The usual viewability rule: at least half of the card on screen for one second without a break. */
export const VIEW_THRESHOLD = 0.5;
export const VIEW_DWELL_MS = 1000;

export interface ViewTrackerOptions {
  /** Visible fraction of the card that counts (default 0.5). */
  threshold?: number;
  /** Continuous time above the threshold before a view counts, ms (default 1000). */
  dwellMs?: number;
}

export interface ViewTracker {
  /** Watches a rendered card for `decisionId`; returns the function that stops watching it. */
  observe(element: Element, decisionId: string, activityId: string): () => void;
  /** Stops everything (pending dwell timers included). */
  dispose(): void;
}

interface Watched {
  decisionId: string;
  activityId: string;
  /** At or above the threshold as last reported by the observer. */
  inView: boolean;
  timer: ReturnType<typeof setTimeout> | undefined;
}

const viewKey = (decisionId: string, activityId: string) => `${decisionId}\u0000${activityId}`;

/**
 * Calls `onView(decisionId, activityId)` when a card has been at least `threshold` visible for
 * `dwellMs` continuously: the timer restarts when the card drops below the threshold or the page is
 * hidden (a hidden tab shows nothing). At most once per (decision, card) for the tracker's life.
 * Browser-only work (IntersectionObserver, document) starts on the first observe(), so creating a
 * tracker on the server is harmless; without IntersectionObserver nothing is ever tracked.
 */
export function createViewTracker(onView: (decisionId: string, activityId: string) => void, options: ViewTrackerOptions = {}): ViewTracker {
  const threshold = options.threshold ?? VIEW_THRESHOLD;
  const dwellMs = options.dwellMs ?? VIEW_DWELL_MS;
  const watched = new Map<Element, Watched>();
  const seen = new Set<string>();
  let observer: IntersectionObserver | null = null;
  let disposed = false;

  const pageHidden = () => typeof document !== 'undefined' && document.visibilityState === 'hidden';

  const stopTimer = (w: Watched) => {
    if (w.timer !== undefined) clearTimeout(w.timer);
    w.timer = undefined;
  };

  const arm = (element: Element, w: Watched) => {
    if (w.timer !== undefined || !w.inView || pageHidden() || seen.has(viewKey(w.decisionId, w.activityId))) return;
    w.timer = setTimeout(() => {
      w.timer = undefined;
      const key = viewKey(w.decisionId, w.activityId);
      if (disposed || watched.get(element) !== w || seen.has(key)) return;
      seen.add(key);
      observer?.unobserve(element);
      onView(w.decisionId, w.activityId);
    }, dwellMs);
  };

  const onVisibility = () => {
    for (const [element, w] of watched) {
      if (pageHidden()) stopTimer(w);
      else arm(element, w);
    }
  };

  const ensureObserver = (): IntersectionObserver | null => {
    if (observer || disposed || typeof IntersectionObserver === 'undefined') return observer;
    observer = new IntersectionObserver(
      (entries) => {
        for (const entry of entries) {
          const w = watched.get(entry.target);
          if (!w) continue;
          w.inView = entry.isIntersecting && entry.intersectionRatio >= threshold;
          if (w.inView) arm(entry.target, w);
          else stopTimer(w);
        }
      },
      { threshold: [0, threshold] },
    );
    document.addEventListener('visibilitychange', onVisibility);
    return observer;
  };

  const unobserve = (element: Element, w: Watched) => {
    if (watched.get(element) !== w) return;
    stopTimer(w);
    watched.delete(element);
    observer?.unobserve(element);
  };

  return {
    observe(element, decisionId, activityId) {
      const io = ensureObserver();
      if (!io) return () => undefined;
      const previous = watched.get(element);
      if (previous) unobserve(element, previous);
      const w: Watched = { decisionId, activityId, inView: false, timer: undefined };
      if (seen.has(viewKey(decisionId, activityId))) return () => undefined;
      watched.set(element, w);
      io.observe(element);
      return () => unobserve(element, w);
    },
    dispose() {
      disposed = true;
      for (const w of watched.values()) stopTimer(w);
      watched.clear();
      observer?.disconnect();
      if (observer) document.removeEventListener('visibilitychange', onVisibility);
      observer = null;
    },
  };
}
