// @vitest-environment happy-dom
import { mount, type VueWrapper } from '@vue/test-utils';
import { renderToString } from 'vue/server-renderer';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createSSRApp, defineComponent, h, nextTick, type Component, type PropType } from 'vue';
import type { Activity, Vitrine, VitrineOptions } from '@vitrine/sdk';
import { useRanking, useVitrine, vitrinePlugin, type UseRankingOptions } from '../src';
import { FakeIntersectionObserver, SHOP, fakeClient } from '@vitrine/storefront/testing';

/** A slot as a shop writes it: the ranked items, the slot and card attributes, click and dismiss. */
const Slot = defineComponent({
  props: {
    activities: { type: Array as PropType<Activity[]>, default: () => SHOP },
    options: { type: Object as PropType<UseRankingOptions>, default: () => ({}) },
  },
  setup(props) {
    const r = useRanking(() => props.activities, props.options);
    return () =>
      h(
        'ul',
        { ...r.slotAttrs, 'data-phase': r.phase.value, 'data-personalized': String(r.personalized.value) },
        r.items.value.map((a) =>
          h('li', { key: a.id, ...r.cardAttrs(a) }, [
            h('button', { class: 'take', onClick: () => void r.trackClick(a.id) }, a.id),
            h('button', { class: 'dismiss', onClick: () => void r.dismiss(a.id) }, 'not for me'),
          ]),
        ),
      );
  },
});

const ConsentBadge = defineComponent({
  setup() {
    const { consent, status } = useVitrine();
    return () => h('p', { class: 'consent', 'data-backend': status.value?.backend ?? '' }, consent.value);
  },
});

const order = (root: ParentNode = document) =>
  [...root.querySelectorAll('[data-vitrine-activity]')].map((e) => e.getAttribute('data-vitrine-activity')).join('');

/** Every order the DOM showed, recorded on each mutation. */
function recordOrders(root: Element): string[] {
  const seen = [order(root)];
  new MutationObserver(() => {
    if (seen.at(-1) !== order(root)) seen.push(order(root));
  }).observe(root, { childList: true, subtree: true, attributes: true });
  return seen;
}

const wrappers: VueWrapper[] = [];
function mountWith(component: Component, plugin: Parameters<typeof vitrinePlugin>[0], props: Record<string, unknown> = {}) {
  const wrapper = mount(component, { props, attachTo: document.body, global: { plugins: [vitrinePlugin(plugin)] } });
  wrappers.push(wrapper);
  return wrapper;
}

const flush = async (ms = 0) => {
  await vi.advanceTimersByTimeAsync(ms);
  await nextTick();
};

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance', 'Date'] });
  FakeIntersectionObserver.instances = [];
  vi.stubGlobal('IntersectionObserver', FakeIntersectionObserver);
});

afterEach(() => {
  for (const w of wrappers.splice(0)) w.unmount();
  document.body.innerHTML = '';
  vi.runOnlyPendingTimers();
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe('useRanking: no flicker', () => {
  it("shows the shop's order at once, then the ranked order once when it arrives within the budget", async () => {
    const { client, calls } = fakeClient(['c', 'a', 'd', 'b'], 40);
    const wrapper = mountWith(
      Slot,
      { options: { model: '/m.json' }, client },
      { options: { slot: 'hero', slots: 3, context: { page: 'home' } } },
    );
    const seen = recordOrders(wrapper.element);
    expect(order()).toBe('abc');
    await flush(40);
    expect(order()).toBe('cad');
    await flush(2000);
    expect(seen).toEqual(['abc', 'cad']);
    expect(calls.rank).toEqual([{ context: { page: 'home' }, slots: 3 }]);
    const slot = document.querySelector('[data-vitrine-slot="hero"]')!;
    expect(slot.getAttribute('data-phase')).toBe('ranked');
    expect(slot.getAttribute('data-personalized')).toBe('true');
  });

  it('keeps the shop order when the rank misses the default 150 ms budget, and never changes it afterwards', async () => {
    const { client, calls } = fakeClient(['d', 'c', 'b', 'a'], 151);
    const wrapper = mountWith(Slot, { options: { model: '/m.json' }, client });
    const seen = recordOrders(wrapper.element);
    await flush(150);
    expect(wrapper.find('ul').attributes('data-phase')).toBe('missed');
    await flush(5000);
    expect(seen).toEqual(['abcd']);
    expect(calls.rank).toHaveLength(1);
    // Nothing is tracked against a decision the shopper never saw.
    await wrapper.find('button.take').trigger('click');
    await flush();
    expect(calls.track).toEqual([]);
  });

  it('a model that loads after the budget: the slot never ranks', async () => {
    const { client, calls } = fakeClient(['d', 'c', 'b', 'a'], 1);
    const create = vi.fn(() => new Promise<Vitrine>((resolve) => setTimeout(() => resolve(client), 400)));
    const wrapper = mountWith(Slot, { options: { model: '/m.json' }, create }, { options: { budgetMs: 100 } });
    const seen = recordOrders(wrapper.element);
    await flush(1000);
    expect(seen).toEqual(['abcd']);
    expect(wrapper.find('ul').attributes('data-phase')).toBe('missed');
    expect(calls.rank).toEqual([]);
  });

  it('new inputs are a new slot: the new default order, then one ranked order within a fresh budget', async () => {
    const { client, calls } = fakeClient(['c', 'a', 'd', 'b'], 10);
    const wrapper = mountWith(Slot, { options: { model: '/m.json' }, client }, { options: { slots: 2 } });
    await flush(10);
    expect(order()).toBe('ca');
    // New array objects with the same ids rank nothing again.
    await wrapper.setProps({ activities: SHOP.map((a) => ({ ...a })) });
    await flush(100);
    expect(calls.rank).toHaveLength(1);
    expect(order()).toBe('ca');
    await wrapper.setProps({ activities: SHOP.slice(1) });
    expect(order()).toBe('bc');
    await flush(10);
    expect(calls.rank).toHaveLength(2);
    expect(order()).toBe('cd');
  });
});

describe('vitrinePlugin: one client per app', () => {
  it('creates one client for all the slots of an app (browser only, on mount), and closes it when the app unmounts', async () => {
    const { client, calls } = fakeClient();
    const create = vi.fn(async () => client);
    const plugin = vitrinePlugin({ options: { model: '/m.json' }, create });
    expect(create).not.toHaveBeenCalled();
    const Page = defineComponent(
      () => () => h('div', [h(ConsentBadge), h(Slot, { options: { slot: 'hero' } }), h(Slot, { options: { slot: 'strip' } })]),
    );
    const wrapper = mount(Page, { attachTo: document.body, global: { plugins: [plugin] } });
    await flush(10);
    expect(create).toHaveBeenCalledTimes(1);
    expect(calls.rank).toHaveLength(2);
    expect(wrapper.find('.consent').attributes('data-backend')).toBe('wasm');
    wrapper.unmount();
    await flush(1);
    expect(calls.close).toBe(1);
  });

  it('two apps on a page have a client each', async () => {
    const create = vi.fn(async (_options: VitrineOptions) => fakeClient().client);
    mountWith(Slot, { options: { model: '/m.json' }, create });
    mountWith(Slot, { options: { model: '/m.json' }, create });
    await flush(10);
    expect(create).toHaveBeenCalledTimes(2);
  });

  it('useVitrine: consent is reactive, the shop default before the client exists', async () => {
    const { client, calls } = fakeClient();
    const create = vi.fn(() => new Promise<Vitrine>((resolve) => setTimeout(() => resolve(client), 50)));
    let setConsent: ReturnType<typeof useVitrine>['setConsent'] = async () => undefined;
    const Banner = defineComponent(() => {
      const vitrine = useVitrine();
      setConsent = vitrine.setConsent;
      return () => h('p', { class: 'consent' }, `${vitrine.consent.value}:${vitrine.client.value ? 'client' : 'none'}`);
    });
    const wrapper = mountWith(Banner, { options: { model: '/m.json', consent: 'signals' }, create });
    expect(wrapper.text()).toBe('signals:none');
    await flush(50);
    expect(wrapper.text()).toBe('profile:client'); // the client's own status now
    await setConsent('none');
    await flush();
    expect(calls.setConsent).toEqual(['none']);
    expect(wrapper.text()).toBe('none:client');
  });
});

describe('useRanking: views, clicks, dismiss, explain', () => {
  it('counts a view once per decision and card when >= 50% was visible for 1 s; not for shorter or smaller', async () => {
    const { client, calls } = fakeClient(['c', 'a', 'd', 'b'], 5);
    mountWith(Slot, { options: { model: '/m.json' }, client }, { options: { slots: 3 } });
    await flush(5);
    const card = (id: string) => document.querySelector(`[data-vitrine-activity="${id}"]`)!;
    FakeIntersectionObserver.report(card('c'), 0.6);
    FakeIntersectionObserver.report(card('a'), 0.4); // under half
    FakeIntersectionObserver.report(card('d'), 1);
    await flush(500);
    FakeIntersectionObserver.report(card('d'), 0.2); // d leaves after half a second
    await flush(600);
    expect(calls.track).toEqual([['d1', 'c', 'view']]);
    FakeIntersectionObserver.report(card('c'), 0);
    FakeIntersectionObserver.report(card('c'), 1);
    await flush(2000);
    expect(calls.track).toEqual([['d1', 'c', 'view']]);
    // One IntersectionObserver for the app.
    expect(FakeIntersectionObserver.instances).toHaveLength(1);
  });

  it('tracks clicks and dismissals against the decision, nothing before it', async () => {
    const { client, calls } = fakeClient(['c', 'a', 'd', 'b'], 5);
    const wrapper = mountWith(Slot, { options: { model: '/m.json' }, client }, { options: { slots: 2 } });
    await wrapper.find('button.take').trigger('click'); // the shop's order: no decision to track against
    await flush(5);
    expect(order()).toBe('ca');
    await wrapper.findAll('button.take')[0].trigger('click');
    await wrapper.findAll('button.dismiss')[1].trigger('click');
    await flush();
    expect(calls.track).toEqual([
      ['d1', 'c', 'click'],
      ['d1', 'a', 'dismiss'],
    ]);
  });

  it('explains a card of the ranked order; null while the shop order shows', async () => {
    const { client, calls } = fakeClient(['c', 'a', 'd', 'b'], 5);
    let explain: (id: string) => Promise<unknown> = async () => undefined;
    const Explaining = defineComponent(() => {
      const r = useRanking(SHOP, { slots: 2 });
      explain = r.explain;
      return () =>
        h(
          'ul',
          r.items.value.map((a) => h('li', { key: a.id, ...r.cardAttrs(a) }, a.id)),
        );
    });
    mountWith(Explaining, { options: { model: '/m.json' }, client });
    expect(await explain('a')).toBeNull();
    await flush(5);
    expect(await explain('c')).toMatchObject({ decisionId: 'd1', activityId: 'c', summary: 'You often take Bar offers' });
    expect(calls.explain).toEqual([['d1', 'c']]);
  });
});

describe('SSR and hydration', () => {
  it("renders the shop's order with the QA attributes and hydrates it without a mismatch warning", async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const error = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const { client } = fakeClient(['d', 'c', 'b', 'a'], 20);
    const create = vi.fn(async () => client);
    const Page = defineComponent(() => () => h('main', [h(ConsentBadge), h(Slot, { options: { slot: 'offers', slots: 3 } })]));
    const server = createSSRApp(Page).use(vitrinePlugin({ options: { model: '/m.json' }, create }));
    const html = await renderToString(server);
    expect(html).toContain('data-vitrine-slot="offers"');
    expect([...html.matchAll(/data-vitrine-activity="(\w)"/g)].map((m) => m[1]).join('')).toBe('abc');
    expect(create).not.toHaveBeenCalled();

    const container = document.createElement('div');
    container.innerHTML = html;
    document.body.append(container);
    const seen = recordOrders(container);
    const app = createSSRApp(Page).use(vitrinePlugin({ options: { model: '/m.json' }, create }));
    app.mount(container);
    await flush(20);
    expect(seen).toEqual(['abc', 'dcb']);
    expect(create).toHaveBeenCalledTimes(1);
    const messages = [...warn.mock.calls, ...error.mock.calls].map((args) => args.map(String).join(' '));
    expect(messages.filter((m) => /hydration/i.test(m))).toEqual([]);
    app.unmount();
  });

  it('the hydration check itself: a different client order does warn', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const error = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const Page = defineComponent({
      props: { activities: { type: Array as PropType<Activity[]>, required: true } },
      setup: (props) => () => h(Slot, { activities: props.activities }),
    });
    const html = await renderToString(createSSRApp(Page, { activities: SHOP }).use(vitrinePlugin({ options: { model: '/m.json' } })));
    const container = document.createElement('div');
    container.innerHTML = html;
    const create = async () => fakeClient().client;
    createSSRApp(Page, { activities: [...SHOP].reverse() })
      .use(vitrinePlugin({ options: { model: '/m.json' }, create }))
      .mount(container);
    const messages = [...warn.mock.calls, ...error.mock.calls].map((args) => args.map(String).join(' '));
    expect(messages.some((m) => /hydration/i.test(m))).toBe(true);
  });
});
