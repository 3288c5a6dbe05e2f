/** Owns the privacy resource: GET /v1/privacy, the mechanism and models devices account against. */
import type { FastifyInstance } from 'fastify';
import { TRAINABLE_TENSORS, updateDimension } from '@vitrine/core/privacy';
import { PRIVACY_FORMAT, type PrivacyParameters } from '@vitrine/core/protocol';
import type { PrivacyConfig } from '../config';
import type { Mechanism } from '../mechanism';
import type { ModelRegistry } from '../registry/registry';

export function registerPrivacyRoutes(
  app: FastifyInstance,
  deps: { registry: ModelRegistry; privacy: PrivacyConfig; mech: Mechanism },
): void {
  app.get('/v1/privacy', async (_req, reply) => {
    reply.header('cache-control', 'no-cache');
    return privacyParameters(deps.registry, deps.privacy, deps.mech);
  });
}

function privacyParameters(registry: ModelRegistry, privacy: PrivacyConfig, mech: Mechanism): PrivacyParameters {
  const current = registry.getCurrent()!;
  const shadow = registry.getShadow();
  return {
    format: PRIVACY_FORMAT,
    budget: { epsilon: privacy.epsilon, delta: privacy.delta, windowDays: privacy.windowDays },
    update: {
      model: current.version,
      tensors: [...TRAINABLE_TENSORS],
      dimension: updateDimension(current.manifest),
      clipNorm: privacy.clipNorm,
      noiseMultiplier: mech.noiseMultiplier,
      localNoiseStd: mech.localNoiseStd,
      rhoPerContribution: mech.rhoPerContribution,
      minHoursBetween: mech.minHoursBetween,
    },
    aggregation: { minCohort: privacy.minCohort, trim: privacy.trim, kThreshold: privacy.kThreshold },
    currentModel: 'models/current',
    shadowModel: shadow ? `models/${shadow.version}/manifest.json` : null,
  };
}
