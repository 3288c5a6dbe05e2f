// Runs in Node with no window, document or IndexedDB: what a shop's server render sees.
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Activity } from '@vitrine/sdk';

const SHOP: Activity[] = ['a', 'b', 'c', 'd'].map((id) => ({ id, type: 'Bar', features: { expiration: '1d' } }));
const TRAPPED = ['window', 'document', 'indexedDB', 'IntersectionObserver', 'localStorage', 'navigator'] as const;

afterEach(() => {
  for (const name of TRAPPED) delete (globalThis as Record<string, unknown>)[name];
});

describe('@vitrine/vue on the server', () => {
  it("imports and renders the shop's order with @vue/server-renderer without touching a browser global or creating a client", async () => {
    // Any read of these by the package's or storefront's code (typeof checks included) is recorded.
    const touched: string[] = [];
    for (const name of TRAPPED) {
      Object.defineProperty(globalThis, name, {
        configurable: true,
        get() {
          const frame = new Error().stack?.split('\n').find((line) => /packages\/(vue|storefront)\/src\//.test(line));
          if (frame) touched.push(`${name} ${frame.trim()}`);
          return undefined;
        },
      });
    }
    vi.resetModules();
    const { vitrinePlugin, useRanking, useVitrine } = await import('../src');
    const { createSSRApp, defineComponent, h } = await import('vue');
    const { renderToString } = await import('vue/server-renderer');
    const create = vi.fn();
    const Page = defineComponent(() => {
      const { consent, client } = useVitrine();
      const r = useRanking(SHOP, { slot: 'hero', slots: 3, context: { page: 'home' } });
      return () =>
        h('main', [
          h('p', { class: 'consent' }, `${consent.value} ${client.value === null ? 'no client' : 'client'}`),
          h(
            'ul',
            { ...r.slotAttrs, 'data-phase': r.phase.value },
            r.items.value.map((a) => h('li', { key: a.id, ...r.cardAttrs(a) }, a.id)),
          ),
        ]);
    });
    const html = await renderToString(createSSRApp(Page).use(vitrinePlugin({ options: { model: '/m.json' }, create })));
    expect(html).toContain('<p class="consent">profile no client</p>');
    expect(html).toContain('<ul data-vitrine-slot="hero" data-phase="default">');
    expect([...html.matchAll(/<li data-vitrine-activity="(\w)">/g)].map((m) => m[1])).toEqual(['a', 'b', 'c']);
    expect(html).not.toContain('ref');
    expect(create).not.toHaveBeenCalled();
    expect(touched).toEqual([]);
  });
});
