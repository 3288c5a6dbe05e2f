/**
 * Test doubles for the storefront core and both bindings (`@vitrine/storefront/testing`): fake
 * clients and an IntersectionObserver the test drives by hand.
 */
import type { Activity, Consent, Decision, RankOptions, Vitrine, VitrineStatus } from '@vitrine/sdk';

export const ACTIVITIES: Activity[] = ['a', 'b', 'c', 'd'].map((id) => ({ id, type: 'Coffee House', features: { expiration: '1d' } }));

export function decisionFor(ids: string[], backend: Decision['backend'] = 'wasm', id = 'd1'): Decision {
  return {
    id,
    items: ids.map((itemId, position) => ({
      id: itemId,
      score: backend === 'rules' ? null : 1 - position / 10,
      propensity: 1,
      position,
      reasons: [],
    })),
    modelVersion: backend === 'rules' ? null : 'm1',
    backend,
    policy: { name: 'epsilon-greedy-slate', epsilon: 0.05, explored: false },
    ineligible: [],
  } as unknown as Decision;
}

/** A client whose rank answers after `rankDelayMs` (fake timers) with `order`. */
export class FakeClient {
  status: VitrineStatus;
  rankCalls: { ids: string[]; options?: RankOptions }[] = [];
  tracked: [string, string, string][] = [];
  closed = 0;
  rankDelayMs = 10;
  order = ['c', 'a', 'b', 'd'];
  backend: Decision['backend'] = 'wasm';
  failRank = false;
  failTrack = false;

  constructor(consent: Consent = 'profile') {
    this.status = { ready: true, backend: 'wasm', consent, profile: 'indexeddb', warnings: [] } as unknown as VitrineStatus;
  }

  rank(activities: Activity[], options?: RankOptions): Promise<Decision> {
    this.rankCalls.push({ ids: activities.map((a) => a.id), options });
    return new Promise((resolve, reject) =>
      setTimeout(() => {
        if (this.failRank) reject(new Error('rank failed'));
        else resolve(decisionFor(this.order.slice(0, options?.slots ?? this.order.length), this.backend, `d${this.rankCalls.length}`));
      }, this.rankDelayMs),
    );
  }

  async track(decisionId: string, activityId: string, outcome: string): Promise<void> {
    if (this.failTrack) throw new Error('track failed');
    this.tracked.push([decisionId, activityId, outcome]);
  }

  async setConsent(consent: Consent): Promise<void> {
    this.status = { ...this.status, consent };
  }

  close(): void {
    this.closed++;
  }

  asVitrine(): Vitrine {
    return this as unknown as Vitrine;
  }
}

/** The shop's own four activities, for the bindings' tests. */
export const SHOP: Activity[] = ['a', 'b', 'c', 'd'].map((id) => ({ id, type: 'Bar', features: { expiration: '1d' } }));

/** A client that ranks `order` after `rankDelayMs` (real or fake timers) and records what it is asked. */
export function fakeClient(order = ['c', 'a', 'd', 'b'], rankDelayMs = 5) {
  const calls = { rank: [] as RankOptions[], track: [] as string[][], close: 0, explain: [] as string[][], setConsent: [] as Consent[] };
  let status = { ready: true, backend: 'wasm', consent: 'profile', profile: 'indexeddb', warnings: [] } as unknown as VitrineStatus;
  const client = {
    get status() {
      return status;
    },
    rank: (activities: Activity[], options: RankOptions = {}) => {
      calls.rank.push(options);
      const ids = order.filter((id) => activities.some((a) => a.id === id)).slice(0, options.slots ?? order.length);
      const decision = {
        id: `d${calls.rank.length}`,
        items: ids.map((id, position) => ({ id, score: 0.5, propensity: 1, position, reasons: [] })),
        backend: 'wasm',
      } as unknown as Decision;
      return new Promise<Decision>((resolve) => setTimeout(() => resolve(decision), rankDelayMs));
    },
    track: async (decisionId: string, activityId: string, outcome: string) => void calls.track.push([decisionId, activityId, outcome]),
    explain: async (decisionId: string, activityId: string) => {
      calls.explain.push([decisionId, activityId]);
      return { decisionId, activityId, summary: 'You often take Bar offers', reasons: [] };
    },
    setConsent: async (consent: Consent) => {
      calls.setConsent.push(consent);
      status = { ...status, consent };
    },
    close: () => void calls.close++,
  };
  return { client: client as unknown as Vitrine, calls };
}

/** An IntersectionObserver the test drives by hand: `FakeIntersectionObserver.report(el, ratio)`. */
export class FakeIntersectionObserver {
  static instances: FakeIntersectionObserver[] = [];
  readonly observed = new Set<Element>();

  constructor(private readonly callback: IntersectionObserverCallback) {
    FakeIntersectionObserver.instances.push(this);
  }

  static report(element: Element, ratio: number): void {
    for (const io of FakeIntersectionObserver.instances) {
      if (!io.observed.has(element)) continue;
      const entry = { target: element, intersectionRatio: ratio, isIntersecting: ratio > 0 } as IntersectionObserverEntry;
      io.callback([entry], io as unknown as IntersectionObserver);
    }
  }

  observe(element: Element): void {
    this.observed.add(element);
  }
  unobserve(element: Element): void {
    this.observed.delete(element);
  }
  disconnect(): void {
    this.observed.clear();
  }
  takeRecords(): IntersectionObserverEntry[] {
    return [];
  }
}
