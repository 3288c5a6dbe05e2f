import { renderToString } from 'vue/server-renderer';
import { createShopApp, type ShopState } from './shop';

export type { ShopState };

/** The shop page's app markup, rendered in Node (no window, no IndexedDB). */
export function render(state: ShopState): Promise<string> {
  return renderToString(createShopApp(state));
}
