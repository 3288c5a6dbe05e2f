/**
 * Owns the stats resource: GET /v1/stats (signal totals, models, rounds, promotions, budget,
 * storage). The answer is computed at most once per `cacheMs` (callers during a computation share
 * it) and each client address is rate-limited, so stats loops cannot starve ingest of the database.
 */
import type { FastifyInstance } from 'fastify';
import { epsilonFromRho } from '@vitrine/core/privacy';
import type { PrivacyConfig } from '../config';
import { contributionRho, type Mechanism } from '../mechanism';
import type { ModelRegistry } from '../registry/registry';
import { selectBatchTotals } from '../store/batches';
import { selectCounters } from '../store/counters';
import type { Db } from '../store/db';
import { selectRecentPromotions } from '../store/promotions';
import { selectRecentRounds } from '../store/rounds';

export interface StatsRoutes {
  /** Drops the cached answer (after a round, so the next read shows it). */
  invalidate(): void;
}

export function registerStatsRoutes(
  app: FastifyInstance,
  deps: {
    db: Db;
    registry: ModelRegistry;
    privacy: PrivacyConfig;
    mech: Mechanism;
    cacheMs: number;
    rateLimit: { max: number; windowMs: number };
    /** Whether contributions carry a segment report now (the policy has segments): it is part of their cost. */
    segmentReports: () => Promise<boolean>;
  },
): StatsRoutes {
  const { db, registry, privacy, mech, cacheMs } = deps;
  // The answer is kept serialized: a cached read costs no database query and no JSON.stringify.
  let cached: { at: number; value: Promise<string> } | null = null;
  let generation = 0;
  const read = (): Promise<string> => {
    // While a computation runs (`at` = Infinity) every caller shares it; after, it is reused for `cacheMs`.
    if (cached && Date.now() - cached.at < cacheMs) return cached.value;
    const mine = ++generation;
    const value = compute().then((stats) => JSON.stringify(stats));
    const entry = { at: Number.POSITIVE_INFINITY, value };
    cached = entry;
    value.then(
      () => {
        entry.at = Date.now();
      },
      // A failed computation is not kept: the next caller tries again.
      () => {
        if (generation === mine) cached = null;
      },
    );
    return value;
  };
  const config = { rateLimit: { max: deps.rateLimit.max, timeWindow: deps.rateLimit.windowMs } };
  app.get('/v1/stats', { config }, async (_req, reply) => reply.type('application/json; charset=utf-8').send(await read()));
  return {
    invalidate() {
      generation += 1;
      cached = null;
    },
  };

  async function compute() {
    const totals = await selectBatchTotals(db);
    const counters = await selectCounters(db);
    const rounds = await selectRecentRounds(db, 20);
    const promotions = await selectRecentPromotions(db, 20);
    const current = registry.getCurrent()!;
    const rho = contributionRho(mech, await deps.segmentReports());
    return {
      signals: { ...totals, duplicatesDropped: counters.duplicates ?? 0, rejected: counters.rejected ?? 0 },
      models: { current: current.version, shadow: registry.getShadow()?.version ?? null, history: await registry.history() },
      rounds,
      promotions,
      budget: {
        epsilon: privacy.epsilon,
        delta: privacy.delta,
        windowDays: privacy.windowDays,
        perContribution: { rho, epsilon: epsilonFromRho(rho, privacy.delta) },
        noiseMultiplierGradient: mech.noiseMultiplierGradient,
        noiseMultiplierCurvature: mech.noiseMultiplierCurvature,
      },
      storage: db.kind,
    };
  }
}
