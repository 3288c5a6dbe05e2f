/** Owns the stats resource: GET /v1/stats (signal totals, models, rounds, promotions, budget, storage). */
import type { FastifyInstance } from 'fastify';
import { epsilonFromRho } from '@vitrine/core/privacy';
import type { PrivacyConfig } from '../config';
import type { Mechanism } from '../mechanism';
import type { ModelRegistry } from '../registry/registry';
import { selectBatchTotals } from '../store/batches';
import { selectCounters } from '../store/counters';
import type { Db } from '../store/db';
import { selectRecentPromotions } from '../store/promotions';
import { selectRecentRounds } from '../store/rounds';

export function registerStatsRoutes(
  app: FastifyInstance,
  deps: { db: Db; registry: ModelRegistry; privacy: PrivacyConfig; mech: Mechanism },
): void {
  const { db, registry, privacy, mech } = deps;
  app.get('/v1/stats', async () => {
    const totals = await selectBatchTotals(db);
    const counters = await selectCounters(db);
    const rounds = await selectRecentRounds(db, 20);
    const promotions = await selectRecentPromotions(db, 20);
    const current = registry.getCurrent()!;
    return {
      signals: { ...totals, duplicatesDropped: counters.duplicates ?? 0, rejected: counters.rejected ?? 0 },
      models: { current: current.version, shadow: registry.getShadow()?.version ?? null, history: await registry.history() },
      rounds,
      promotions,
      budget: {
        epsilon: privacy.epsilon,
        delta: privacy.delta,
        windowDays: privacy.windowDays,
        perContribution: { rho: mech.rhoPerContribution, epsilon: epsilonFromRho(mech.rhoPerContribution, privacy.delta) },
        noiseMultiplierGradient: mech.noiseMultiplierGradient,
        noiseMultiplierCurvature: mech.noiseMultiplierCurvature,
      },
      storage: db.kind,
    };
  });
}
