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
