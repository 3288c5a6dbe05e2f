/**
 * For this repository's Node tools and tests only (the `source` export condition; never built or
 * published): createVitrine with its seams, and the in-memory stand-ins of the stores.
 */
export { createVitrine, type VitrineInternals } from './vitrine';
export { MemoryProfileStore } from './profile/memory-store';
export { DEFAULT_RETENTION } from './profile/store';
export { MemoryOutbox } from './signals/outbox';
export { PrivacyAccountant } from './signals/accountant';
export { BACKENDS } from './types';

/**
 * Device privacy floors lifted entirely: for simulations that sweep budgets, tiny cohorts and a
 * no-noise baseline on purpose. The check that the published cost matches the noise still runs.
 */
export const SIMULATION_PRIVACY_FLOORS = { maxEpsilon: Infinity, maxDelta: 1, minWindowDays: 0, minCohort: 0, minKThreshold: 0 };
