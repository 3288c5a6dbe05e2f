/** Owns the server's configuration: its shape, defaults, reading it from the environment, and the derived DP mechanism. */
import { resolve } from 'node:path';
import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import { DEFAULT_CONTRIBUTIONS_PER_WINDOW } from '@vitrine/core/privacy';
import { signingFromEnv, type SigningConfig } from './registry/signing';

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
  /**
   * ε of the k-ary randomized-response segment report a contribution carries while the policy in
   * force defines segments (published as `update.segmentEpsilon`; its cost is added to the
   * published ρ per contribution). 0 or absent: no segment reports are asked for.
   */
  segmentEpsilon?: number;
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
   * Which proxies' X-Forwarded-For is believed for the client address (rate-limit buckets and
   * network keys): false (default) ignores the header; a list of proxy addresses, CIDRs or
   * proxy-addr names (`loopback`, `uniquelocal`, `linklocal`) trusts only those peers; a number
   * trusts that many hops in front of the server (only when nothing else can reach it); true trusts
   * everyone (any client can then claim any address). See `parseTrustProxy`.
   */
  trustProxy: TrustProxy;
  /** Bearer token for `/v1/admin/*`. Without one the admin routes are disabled (403). */
  adminToken?: string;
  /** Model signing key (registry/signing.ts). Without a key manifests are served unsigned, which `required` refuses. */
  signing?: SigningConfig;
  /**
   * GET /v1/stats: computed at most once per `cacheMs` (concurrent callers share one computation)
   * and limited per client address. Default `DEFAULT_STATS`.
   */
  stats?: StatsConfig;
  logger: boolean;
  /** Where warnings and errors are logged when `logger` is on (default: stdout); tests capture it here. */
  logStream?: { write(line: string): void };
  /** The server's clock for checking events' time buckets (simulations run days ahead) and for pacing. */
  now?: () => number;
  /**
   * A JSON file `{ "rules": …, "segments": … }` (VITRINE_POLICY_FILE) stored as the merchant's
   * policy when the store has none yet (an admin PUT /v1/admin/policy replaces it afterwards).
   */
  policyFile?: string;
  /** GET /v1/policy and the pacing controller; default `DEFAULT_POLICY_SERVING`. */
  policy?: PolicyServingConfig;
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
  segmentEpsilon: 0.5,
};

export interface PolicyServingConfig {
  /** The policy document is recomputed at most once per this many ms (Cache-Control max-age is the same, in seconds). */
  cacheMs: number;
  /** Least time between two steps of the pacing controller. */
  pacingIntervalMs: number;
}

export const DEFAULT_POLICY_SERVING: PolicyServingConfig = { cacheMs: 60_000, pacingIntervalMs: 5 * 60_000 };

export type TrustProxy = boolean | number | string[];

export interface StatsConfig {
  cacheMs: number;
  rateLimit: { max: number; windowMs: number };
}

export const DEFAULT_STATS: StatsConfig = { cacheMs: 2000, rateLimit: { max: 120, windowMs: 60_000 } };

/** Shortest admin token accepted (a generated one is 32 random bytes, 43 characters of base64url). */
export const MIN_ADMIN_TOKEN_LENGTH = 16;

const PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/**
 * VITRINE_TRUST_PROXY: unset, '', '0' or 'false': no proxy (X-Forwarded-For ignored). 'true':
 * trust every hop (the old '1' behaviour: only when every path to the server adds the header
 * itself). A positive integer: that many proxy hops ('1' = one reverse proxy in front; the
 * server must not be reachable around it). Otherwise a comma list of proxy addresses or CIDRs
 * (`127.0.0.1,10.0.0.0/8,::1`) or proxy-addr names (`loopback`, `uniquelocal`, `linklocal`):
 * only a peer in the list is believed, which is the setting to prefer.
 */
export function parseTrustProxy(raw: string | undefined): TrustProxy {
  const value = (raw ?? '').trim();
  if (value === '' || value === '0' || value === 'false') return false;
  if (value === 'true') return true;
  if (/^\d+$/.test(value)) return Number(value);
  const entries = value.split(',').map((e) => e.trim());
  for (const entry of entries) {
    const [address, bits, ...rest] = entry.split('/');
    const family = isIP(address);
    const okBits = bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= (family === 6 ? 128 : 32));
    if (!(PROXY_NAMES.has(entry) || (family !== 0 && okBits && rest.length === 0))) {
      throw new Error(
        `VITRINE_TRUST_PROXY: "${entry}" is not an address, CIDR or one of loopback, linklocal, uniquelocal ` +
          `(use a comma list, a hop count, or 'true')`,
      );
    }
  }
  return entries;
}

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
      segmentEpsilon: num('VITRINE_SEGMENT_EPSILON', DEFAULT_PRIVACY.segmentEpsilon ?? 0),
    },
    ...(process.env.VITRINE_POLICY_FILE ? { policyFile: resolve(process.env.VITRINE_POLICY_FILE) } : {}),
    policy: {
      cacheMs: num('VITRINE_POLICY_CACHE_MS', DEFAULT_POLICY_SERVING.cacheMs),
      pacingIntervalMs: num('VITRINE_PACING_INTERVAL_MS', DEFAULT_POLICY_SERVING.pacingIntervalMs),
    },
    promotion: {
      minEvents: num('VITRINE_MIN_OPE_EVENTS', 2000),
      margin: num('VITRINE_PROMOTION_MARGIN', 0.005),
      minNetworks: num('VITRINE_MIN_OPE_NETWORKS', 20),
    },
    roundIntervalMs: num('VITRINE_ROUND_INTERVAL_MS', 3_600_000),
    rateLimit: { max: num('VITRINE_RATE_LIMIT', 600), windowMs: 60_000 },
    bodyLimit: 64 * 1024,
    trustProxy: parseTrustProxy(process.env.VITRINE_TRUST_PROXY),
    adminToken: process.env.VITRINE_ADMIN_TOKEN || undefined,
    signing: signingFromEnv(process.env),
    stats: {
      cacheMs: num('VITRINE_STATS_CACHE_MS', DEFAULT_STATS.cacheMs),
      rateLimit: { max: num('VITRINE_STATS_RATE_LIMIT', DEFAULT_STATS.rateLimit.max), windowMs: DEFAULT_STATS.rateLimit.windowMs },
    },
    logger: process.env.VITRINE_LOG !== '0',
    allowNoiseOff: false,
  };
}
