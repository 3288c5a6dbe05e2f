/** Owns the privacy resource: GET /v1/privacy, the mechanism and models devices account against. */
import type { FastifyInstance } from 'fastify';
import { UPDATE_METHOD, headLayout } from '@vitrine/core/privacy';
import { PRIVACY_FORMAT, type PrivacyParameters } from '@vitrine/core/protocol';
import type { PrivacyConfig } from '../config';
import type { Db } from '../store/db';
import { selectRecentRounds } from '../store/rounds';
import type { ExpectedGain } from '../registry/seed';
import { contributionRho, type Mechanism } from '../mechanism';
import type { ModelRegistry } from '../registry/registry';

export function registerPrivacyRoutes(
  app: FastifyInstance,
  deps: {
    db: Db;
    registry: ModelRegistry;
    privacy: PrivacyConfig;
    mech: Mechanism;
    expectedGain: ExpectedGain | null;
    /** The ε of the segment reports the policy in force asks for (null: none); its cost is in rhoPerContribution. */
    segmentEpsilon: () => Promise<number | null>;
  },
): void {
  app.get('/v1/privacy', async (_req, reply) => {
    reply.header('cache-control', 'no-cache');
    return await privacyParameters(deps);
  });
}

async function privacyParameters({
  db,
  registry,
  privacy,
  mech,
  expectedGain,
  segmentEpsilon,
}: Parameters<typeof registerPrivacyRoutes>[1]): Promise<PrivacyParameters> {
  const reportEpsilon = await segmentEpsilon();
  const current = registry.getCurrent()!;
  const shadow = registry.getShadow();
  const prior = await registry.prior(registry.baseOf(current));
  const layout = headLayout(current.manifest);
  return {
    format: PRIVACY_FORMAT,
    budget: { epsilon: privacy.epsilon, delta: privacy.delta, windowDays: privacy.windowDays },
    update: {
      // A model without an update prior takes no updates: devices see another version asked for.
      model: prior && layout && prior.dimension === layout.dimension ? current.version : 'none',
      method: UPDATE_METHOD,
      dimension: layout?.dimension ?? 1,
      clipGradient: prior?.clipGradient ?? 1,
      clipCurvature: prior?.clipCurvature ?? 1,
      noiseMultiplierGradient: mech.noiseMultiplierGradient,
      noiseMultiplierCurvature: mech.noiseMultiplierCurvature,
      // With segments in the policy, each contribution also carries a segment report: its cost is charged with it.
      rhoPerContribution: contributionRho(mech, reportEpsilon !== null),
      minHoursBetween: mech.minHoursBetween,
      ...(reportEpsilon !== null ? { segmentEpsilon: reportEpsilon } : {}),
    },
    aggregation: { minCohort: privacy.minCohort, kThreshold: privacy.kThreshold, perNetwork: 'mean' },
    expectations: expectedGain ? expectations(expectedGain, await contributorsPerWindow(db, privacy.contributionsPerWindow)) : null,
    currentModel: 'models/current',
    shadowModel: shadow ? `models/${shadow.version}/manifest.json` : null,
  };
}

/** Networks that contributed over the last window's rounds (mean per round). */
export async function contributorsPerWindow(db: Db, rounds: number): Promise<number> {
  const recent = (await selectRecentRounds(db, rounds)).filter((r) => r.status === 'published-shadow');
  return recent.length ? recent.reduce((s, r) => s + r.cohort, 0) / recent.length : 0;
}

/**
 * The simulation's share of the central model's gain at this many contributors, interpolated in
 * log(contributors) between the measured populations (0 below the smallest one).
 */
export function expectations(gain: ExpectedGain, contributors: number): NonNullable<PrivacyParameters['expectations']> {
  const curve = [...gain.curve].sort((a, b) => a.contributors - b.contributors);
  let share = 0;
  if (contributors >= curve[0].contributors) {
    share = curve.at(-1)!.share;
    for (let i = 1; i < curve.length; i++) {
      const [a, b] = [curve[i - 1], curve[i]];
      if (contributors <= b.contributors) {
        const t = Math.log(contributors / a.contributors) / Math.log(b.contributors / a.contributors);
        share = a.share + t * (b.share - a.share);
        break;
      }
    }
  }
  return { contributorsPerWindow: contributors, shareOfCentralGain: Math.max(0, share), source: gain.source };
}
