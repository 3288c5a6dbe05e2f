import { createShopApp, type ShopState } from './shop';

// The state the server rendered with (see e2e/vue.spec.ts), so that the first client render matches it.
const state = (window as unknown as { __SHOP__: ShopState }).__SHOP__;
createShopApp(state).mount('#app');
