/**
 * Framework-agnostic storefront logic behind @vitrine/react and @vitrine/vue (inlined into their
 * builds): one client per page, budgeted slot ranking without flicker, viewability, card/slot
 * attributes. Nothing here touches window, document or IndexedDB at import time.
 */
export { acquireClient, track, isBrowser, DEFAULT_CONSENT } from './client';
export type { ClientHandle, ClientState, CreateVitrine } from './client';
export { createSlotRanking, defaultSlot, slotKey, DEFAULT_BUDGET_MS } from './slot';
export type { ClientSource, SlotOptions, SlotPhase, SlotRanking, SlotSnapshot } from './slot';
export { createViewTracker, VIEW_DWELL_MS, VIEW_THRESHOLD } from './views';
export type { ViewTracker, ViewTrackerOptions } from './views';
export { CARD_ATTRIBUTE, SLOT_ATTRIBUTE, cardAttributes, slotAttributes } from './attributes';
