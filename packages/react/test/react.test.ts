// @vitest-environment happy-dom
import { StrictMode, createElement as h, useState, type ReactNode } from 'react';
import { act, cleanup, render, screen, waitFor } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Activity, Vitrine, VitrineOptions } from '@vitrine/sdk';
import { VitrineProvider, useRanking, useVitrine, type UseRankingOptions } from '../src';
import { SHOP, fakeClient } from '@vitrine/storefront/testing';

function Slot(props: UseRankingOptions & { activities?: Activity[] }) {
  const { activities = SHOP, ...options } = props;
  const r = useRanking(activities, options);
  return h(
    'ul',
    { ...r.slotProps(), 'data-phase': r.phase, 'data-personalized': String(r.personalized) },
    r.items.map((a) => h('li', { key: a.id, ...r.cardProps(a), onClick: () => void r.trackClick(a.id) }, a.id)),
  );
}

const order = () => [...document.querySelectorAll('[data-vitrine-activity]')].map((e) => e.getAttribute('data-vitrine-activity')).join('');

function app(create: (o: VitrineOptions) => Promise<Vitrine>, children: ReactNode, options: VitrineOptions = { model: '/m.json' }) {
  return h(StrictMode, null, h(VitrineProvider, { options, create }, children));
}

afterEach(() => cleanup());

describe('VitrineProvider + useRanking', () => {
  it('creates one client and ranks once under StrictMode, then shows the ranked order with its attributes', async () => {
    const { client, calls } = fakeClient();
    const create = vi.fn(async () => client);
    const view = render(app(create, h(Slot, { slot: 'hero', slots: 3, context: { page: 'home' }, budgetMs: 1000 })));
    expect(order()).toBe('abc');
    await waitFor(() => expect(order()).toBe('cad'));
    expect(create).toHaveBeenCalledTimes(1);
    expect(calls.rank).toEqual([{ context: { page: 'home' }, slots: 3 }]);
    const slot = document.querySelector('[data-vitrine-slot="hero"]');
    expect(slot?.getAttribute('data-phase')).toBe('ranked');
    expect(slot?.getAttribute('data-personalized')).toBe('true');
    screen.getByText('a').click();
    await waitFor(() => expect(calls.track).toEqual([['d1', 'a', 'click']]));
    view.unmount();
    await new Promise((r) => setTimeout(r, 5));
    expect(calls.close).toBe(1);
  });

  it('keeps the shop order when the rank misses the budget, and never changes it afterwards', async () => {
    const { client, calls } = fakeClient(['d', 'c', 'b', 'a'], 80);
    render(app(async () => client, h(Slot, { budgetMs: 30 })));
    const seen = new Set<string>([order()]);
    const observer = new MutationObserver(() => seen.add(order()));
    observer.observe(document.body, { childList: true, subtree: true });
    await waitFor(() => expect(document.querySelector('[data-phase]')?.getAttribute('data-phase')).toBe('missed'));
    await new Promise((r) => setTimeout(r, 120));
    observer.disconnect();
    expect(calls.rank.length).toBeLessThanOrEqual(1);
    expect([...seen]).toEqual(['abcd']);
  });

  it('does not rank again when a re-render passes new arrays with the same ids and context', async () => {
    const { client, calls } = fakeClient();
    let rerender!: () => void;
    function Shop() {
      const [n, setN] = useState(0);
      rerender = () => setN(n + 1);
      return h(Slot, { activities: SHOP.map((a) => ({ ...a })), context: { page: 'home' }, budgetMs: 1000 });
    }
    render(app(async () => client, h(Shop)));
    await waitFor(() => expect(order()).toBe('cadb'));
    act(() => rerender());
    act(() => rerender());
    await new Promise((r) => setTimeout(r, 20));
    expect(calls.rank).toHaveLength(1);
    expect(order()).toBe('cadb');
  });

  it('throws a clear error without a provider', () => {
    vi.spyOn(console, 'error').mockImplementation(() => undefined);
    expect(() => render(h(Slot))).toThrow(/VitrineProvider/);
    vi.mocked(console.error).mockRestore();
  });
});

describe('views', () => {
  const observers: { callback: IntersectionObserverCallback; observed: Set<Element> }[] = [];
  beforeEach(() => {
    observers.length = 0;
    vi.stubGlobal(
      'IntersectionObserver',
      class {
        observed = new Set<Element>();
        constructor(public callback: IntersectionObserverCallback) {
          observers.push(this);
        }
        observe(e: Element) {
          this.observed.add(e);
        }
        unobserve(e: Element) {
          this.observed.delete(e);
        }
        disconnect() {
          this.observed.clear();
        }
      },
    );
  });
  afterEach(() => vi.unstubAllGlobals());

  const show = (id: string, ratio: number) => {
    const el = document.querySelector(`[data-vitrine-activity="${id}"]`)!;
    for (const io of observers) {
      if (io.observed.has(el))
        io.callback([{ target: el, intersectionRatio: ratio, isIntersecting: ratio > 0 } as IntersectionObserverEntry], {} as never);
    }
  };

  it('tracks a card 50% visible for 1 s once under StrictMode, and nothing for the shop order', async () => {
    const { client, calls } = fakeClient();
    render(app(async () => client, h(Slot, { budgetMs: 1000 })));
    expect(observers).toHaveLength(0); // no decision yet: nothing observed, nothing to track
    await waitFor(() => expect(order()).toBe('cadb'));
    vi.useFakeTimers();
    try {
      show('c', 0.6);
      show('a', 0.4);
      await vi.advanceTimersByTimeAsync(1000);
      show('c', 0);
      show('c', 1);
      await vi.advanceTimersByTimeAsync(2000);
    } finally {
      vi.useRealTimers();
    }
    await waitFor(() => expect(calls.track).toEqual([['d1', 'c', 'view']]));
  });
});

describe('useVitrine', () => {
  it('re-renders on status and consent changes', async () => {
    const { client } = fakeClient();
    function Consent() {
      const { client: c, consent, setConsent } = useVitrine();
      return h('button', { onClick: () => void setConsent('none') }, `${c ? 'client' : 'none'}:${consent}`);
    }
    render(app(async () => client, h(Consent), { model: '/m.json', consent: 'signals' }));
    expect(screen.getByRole('button').textContent).toBe('none:signals');
    await waitFor(() => expect(screen.getByRole('button').textContent).toBe('client:profile'));
    await act(async () => screen.getByRole('button').click());
    await waitFor(() => expect(screen.getByRole('button').textContent).toBe('client:none'));
  });

  it('explains a card of the decision and returns null without one', async () => {
    const { client, calls } = fakeClient();
    let explain!: (id: string) => Promise<unknown>;
    function Probe() {
      const r = useRanking(SHOP, { budgetMs: 1000 });
      explain = r.explain;
      return h('p', null, r.phase);
    }
    render(app(async () => client, h(Probe)));
    expect(await explain('a')).toBeNull();
    await waitFor(() => expect(screen.getByText('ranked')).toBeTruthy());
    await expect(explain('a')).resolves.toMatchObject({ decisionId: 'd1', summary: 'You often take Bar offers' });
    expect(calls.explain).toEqual([['d1', 'a']]);
  });
});
