/** Owns the server's configuration: its shape, defaults, reading it from the environment, and the derived DP mechanism. */
import { resolve } from 'node:path';
import { createRequire } from 'node:module';
import { DEFAULT_CONTRIBUTIONS_PER_WINDOW } from '@vitrine/core/privacy';

/** The published model the server starts from on an empty store: the one @vitrine/models ships. */
export const DEFAULT_SEED_MODEL = createRequire(import.meta.url).resolve('@vitrine/models/coupons/manifest.json');

export interface PrivacyConfig {
  /** Per shopper device and window: the (epsilon, delta) no device exceeds. */
  epsilon: number;
  delta: number;
  windowDays: number;
  /** Rounds a device may join per window; the noise is calibrated so they all fit the budget. */
  contributionsPerWindow: number;
  /** Share of each contribution's μ² spent on the curvature sum (the rest on the gradient sum). */
  curvatureShare: number;
  /** Fewest networks (distinct /24 or /48) a round needs. */
  minCohort: number;
  /** Per-activity statistics are released only when at least this many batches back them. */
  kThreshold: number;
  /** Weight of the seed's Fisher as the head's prior precision (simulations scale it with the population). */
  priorWeight: number;
  /** Ridge per estimated contribution. */
  ridgePerContribution: number;
  /** Noise-aware ridge: λ += noiseRidge × σ² of the gradient sum. */
  noiseRidge: number;
  /**
   * Least time between published rounds, in hours (default: the window over its contributions,
   * 240 h): the solve combines the last `contributionsPerWindow` rounds, i.e. about one window.
   * The QA loop and tests set 0.
   */
  roundSpacingHours?: number;
  /** 'none' turns the noise off (simulation baseline only; refused unless `ServerConfig.allowNoiseOff`). */
  noise: 'gaussian' | 'none';
}

export interface ServerConfig {
  port: number;
  host: string;
  dataDir?: string;
  databaseUrl?: string;
  seedModel: string;
  privacy: PrivacyConfig;
  promotion: { minEvents: number; margin: number; minNetworks?: number };
  roundIntervalMs: number;
  rateLimit: { max: number; windowMs: number };
  bodyLimit: number;
  /**
   * Take the client address from X-Forwarded-For (only behind a proxy you run: otherwise any
   * client could claim any network). The simulation sets it to give each shopper a network.
   */
  trustProxy: boolean;
  adminToken?: string;
  logger: boolean;
  /** The server's clock for checking events' time buckets (simulations run days ahead). */
  now?: () => number;
  /**
   * Accept `privacy.noise: 'none'` (no privacy at all). Only the simulation's no-noise baseline
   * and tests set it; `configFromEnv` never does, so a deployed server refuses to start that way.
   */
  allowNoiseOff: boolean;
}

export const DEFAULT_PRIVACY: PrivacyConfig = {
  epsilon: 8,
  delta: 1e-6,
  windowDays: 30,
  contributionsPerWindow: DEFAULT_CONTRIBUTIONS_PER_WINDOW,
  curvatureShare: 0.1,
  minCohort: 100,
  kThreshold: 20,
  priorWeight: 1,
  ridgePerContribution: 0.05,
  noiseRidge: 0.8,
  noise: 'gaussian',
};

const num = (name: string, fallback: number): number => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n)) throw new Error(`${name} must be a number, got "${raw}"`);
  return n;
};

export function configFromEnv(): ServerConfig {
  return {
    port: num('PORT', 8787),
    host: process.env.HOST ?? '127.0.0.1',
    databaseUrl: process.env.DATABASE_URL || undefined,
    dataDir: process.env.DATABASE_URL ? undefined : resolve(process.env.VITRINE_DATA_DIR ?? '.vitrine'),
    seedModel: resolve(process.env.VITRINE_SEED_MODEL ?? DEFAULT_SEED_MODEL),
    privacy: {
      ...DEFAULT_PRIVACY,
      epsilon: num('VITRINE_EPSILON', DEFAULT_PRIVACY.epsilon),
      minCohort: num('VITRINE_MIN_COHORT', DEFAULT_PRIVACY.minCohort),
      kThreshold: num('VITRINE_K_THRESHOLD', DEFAULT_PRIVACY.kThreshold),
      ...(process.env.VITRINE_ROUND_SPACING_HOURS ? { roundSpacingHours: num('VITRINE_ROUND_SPACING_HOURS', 240) } : {}),
    },
    promotion: {
      minEvents: num('VITRINE_MIN_OPE_EVENTS', 2000),
      margin: num('VITRINE_PROMOTION_MARGIN', 0.005),
      minNetworks: num('VITRINE_MIN_OPE_NETWORKS', 20),
    },
    roundIntervalMs: num('VITRINE_ROUND_INTERVAL_MS', 3_600_000),
    rateLimit: { max: num('VITRINE_RATE_LIMIT', 600), windowMs: 60_000 },
    bodyLimit: 64 * 1024,
    trustProxy: process.env.VITRINE_TRUST_PROXY === '1',
    adminToken: process.env.VITRINE_ADMIN_TOKEN || undefined,
    logger: process.env.VITRINE_LOG !== '0',
    allowNoiseOff: false,
  };
}
