/**
 * Vue 3.5 bindings for Vitrine. A plugin that gives the app one client (created in
 * the browser only), `useVitrine()` for its state and consent, and `useRanking()` for slots ranked
 * without flicker, with viewability tracking. SSR-safe: importing it and rendering on the server
 * touch no browser API and render the shop's own order.
 *
 * @module @vitrine/vue
 */
export { vitrinePlugin, useVitrine } from './plugin';
export type { UseVitrine, VitrinePluginOptions } from './plugin';
export { useRanking } from './ranking';
export type { CardAttrs, CardRef, Explanation, Ranking, UseRankingOptions } from './ranking';
export { CARD_ATTRIBUTE, DEFAULT_BUDGET_MS, SLOT_ATTRIBUTE, VIEW_DWELL_MS, VIEW_THRESHOLD } from '@vitrine/storefront';
export type { ClientState, CreateVitrine, SlotPhase } from '@vitrine/storefront';
export type {
  Activity,
  Consent,
  Decision,
  FeatureRecord,
  FeatureValue,
  Outcome,
  RankedItem,
  Vitrine,
  VitrineError,
  VitrineOptions,
  VitrineStatus,
} from '@vitrine/sdk';
