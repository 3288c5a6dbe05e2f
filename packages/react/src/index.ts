/**
 * React 18/19 bindings for Vitrine. One client per page (created in the browser only), slots
 * ranked without flicker, views counted by the viewability rule. See the package's README.
 *
 * @module @vitrine/react
 */
export { VitrineProvider } from './provider';
export type { VitrineProviderProps } from './provider';
export { useRanking, useVitrine } from './hooks';
export type { CardProps, Ranking, UseRankingOptions, VitrineState } from './hooks';
export { CARD_ATTRIBUTE, DEFAULT_BUDGET_MS, SLOT_ATTRIBUTE, VIEW_DWELL_MS, VIEW_THRESHOLD } from '@vitrine/storefront';
export type { CreateVitrine, SlotPhase } from '@vitrine/storefront';
export type {
  Activity,
  Consent,
  Decision,
  Explanation,
  ExplanationReason,
  FeatureRecord,
  FeatureValue,
  Outcome,
  RankedItem,
  Vitrine,
  VitrineError,
  VitrineOptions,
  VitrineStatus,
} from '@vitrine/sdk';
