/** Owns the public entry of @vitrine/server: what `main.ts`, the simulation and the SDK's tests build on. */
export { createServer, type VitrineServer } from './http/server';
export { DEFAULT_PRIVACY, configFromEnv, type PrivacyConfig, type ServerConfig } from './config';
export { mechanism, type Mechanism } from './mechanism';
export { openDb, type Db, type DbOptions } from './store/db';
export type { StoredModel } from './store/models';
export type { ModelRegistry } from './registry/registry';
export { decodeWeights, masterWeights, toMlp } from './registry/weights';
export type { RoundReport } from './rounds/round';
export type { PromotionReport } from './promotion/check';
