/** @vitrine/server as a library: what `main.ts`, the simulation and the SDK's tests build on. */
export { createServer, type VitrineServer } from './app';
export { DEFAULT_PRIVACY, configFromEnv, mechanism, type PrivacyConfig, type ServerConfig } from './config';
export { openDb, type Db, type DbOptions } from './db/db';
export { decodeWeights, toMlp, type StoredModel } from './models/registry';
export type { RoundReport, PromotionReport } from './learning/aggregate';
