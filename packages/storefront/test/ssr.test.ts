// Runs in Node with no window, document or IndexedDB: what a server render of a shop sees.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ACTIVITIES } from './fakes';

const TRAPPED = ['window', 'document', 'indexedDB', 'IntersectionObserver', 'localStorage'] as const;

afterEach(() => {
  for (const name of TRAPPED) delete (globalThis as Record<string, unknown>)[name];
});

describe('on the server', () => {
  it('imports, renders the default slot and never creates a client, without touching browser globals', async () => {
    // Reading any of these (other than `typeof`, which the module uses to detect a browser) throws.
    const touched: string[] = [];
    for (const name of TRAPPED.slice(2)) {
      Object.defineProperty(globalThis, name, {
        configurable: true,
        get() {
          touched.push(name);
          throw new Error(`${name} touched on the server`);
        },
      });
    }
    vi.resetModules();
    const storefront = await import('../src');
    expect(storefront.defaultSlot(ACTIVITIES, 2).items.map((a) => a.id)).toEqual(['a', 'b']);
    const create = vi.fn();
    const handle = storefront.acquireClient({ model: '/m.json' }, create);
    expect(handle.client).toBeNull();
    expect(await handle.ready).toBeNull();
    expect(create).not.toHaveBeenCalled();
    expect(handle.state()).toMatchObject({ client: null, status: null, consent: 'profile' });
    handle.release();
    const slot = storefront.createSlotRanking(handle, ACTIVITIES, { slots: 2 });
    expect(slot.snapshot().phase).toBe('default');
    storefront.createViewTracker(() => undefined).dispose();
    expect(touched).toEqual([]);
  });
});
