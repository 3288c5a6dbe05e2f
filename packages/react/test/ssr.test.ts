// Node, no DOM: what a shop's server render does with @vitrine/react.
import { createElement as h, StrictMode } from 'react';
import { renderToString } from 'react-dom/server';
import { describe, expect, it, vi } from 'vitest';
import type { Activity } from '@vitrine/sdk';
import { VitrineProvider, useRanking, useVitrine } from '../src';

const SHOP: Activity[] = ['a', 'b', 'c'].map((id) => ({ id, type: 'Bar' }));

function Slot() {
  const r = useRanking(SHOP, { slot: 'hero', slots: 2 });
  const { client, consent } = useVitrine();
  return h(
    'ul',
    { ...r.slotProps(), title: `${r.phase} ${client === null} ${consent}` },
    r.items.map((a) => h('li', { key: a.id, ...r.cardProps(a) }, a.id)),
  );
}

describe('server render', () => {
  it("renders the shop's order with the data attributes and creates no client", () => {
    const create = vi.fn();
    const html = renderToString(
      h(StrictMode, null, h(VitrineProvider, { options: { model: '/m.json', consent: 'none' }, create }, h(Slot))),
    );
    const cards = '<li data-vitrine-activity="a">a</li><li data-vitrine-activity="b">b</li>';
    expect(html).toBe(`<ul data-vitrine-slot="hero" title="default true none">${cards}</ul>`);
    expect(create).not.toHaveBeenCalled();
    expect(typeof window).toBe('undefined');
  });
});
