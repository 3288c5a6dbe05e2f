import type { Consent, Decision, RankOptions, Vitrine, VitrineStatus } from '@vitrine/sdk';
import type { Activity } from '@vitrine/sdk';

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
