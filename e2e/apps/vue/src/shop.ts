import type { Activity, FeatureRecord, VitrineOptions } from '@vitrine/sdk';
import { vitrinePlugin } from '@vitrine/vue';
import { createSSRApp, type App as VueApp } from 'vue';
import App from './App.vue';

/** What the server renders the page from; serialized into the page so that hydration renders the same. */
export interface ShopState {
  /** The shop's own order: what the server renders and what stays when ranking misses its budget. */
  activities: Activity[];
  model: string;
  backend?: VitrineOptions['backend'];
  /** The slot's budget; absent: the package default. */
  budgetMs?: number;
  slots: number;
  /** The page context the slot ranks for. */
  context: FeatureRecord;
  /** Height of the content above the offers, px (the viewability tests scroll the cards into view). */
  spacerPx: number;
}

/** The same app on the server (renderToString) and in the browser (hydrated). */
export function createShopApp(state: ShopState): VueApp {
  const app = createSSRApp(App, { state });
  app.use(vitrinePlugin({ options: { model: state.model, ...(state.backend ? { backend: state.backend } : {}) } }));
  return app;
}
