import * as v from 'valibot';
import type { ModelManifest } from '@vitrine/core/artifact';
import { UPDATE_METHOD, rhoForEpsilon, supportsUpdates, updateDimension } from '@vitrine/core/privacy';
import { PrivacySchema, type PrivacyParameters } from '@vitrine/core/protocol';

const PRIVACY_TIMEOUT_MS = 10_000;

/** GET {endpoint}/privacy: the parameters the server publishes, validated; throws why not. */
export async function fetchPrivacyParameters(
  fetchFn: typeof fetch,
  url: string,
  timeoutMs = PRIVACY_TIMEOUT_MS,
): Promise<PrivacyParameters> {
  const res = await fetchFn(url, { credentials: 'omit', cache: 'no-cache', signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`GET privacy answered ${res.status}`);
  return parsePrivacyParameters(await res.json());
}

export function parsePrivacyParameters(json: unknown): PrivacyParameters {
  const parsed = v.safeParse(PrivacySchema, json);
  if (!parsed.success) throw new Error(`privacy parameters invalid at ${v.getDotPath(parsed.issues[0])}: ${parsed.issues[0].message}`);
  return parsed.output;
}

/** Whether the server asks for updates of exactly this model (version, method and dimension). */
export function updatesWanted(params: PrivacyParameters, manifest: ModelManifest): boolean {
  return (
    params.update.model === manifest.version &&
    params.update.method === UPDATE_METHOD &&
    supportsUpdates(manifest) &&
    params.update.dimension === updateDimension(manifest)
  );
}

/**
 * The weakest privacy a device accepts from a server before it attaches a model update. A
 * server (misconfigured, or not the shop's) may publish any parameters; these floors are the
 * device's own. A shop may loosen them explicitly (`privacyFloors`), e.g. for a QA loop.
 */
export interface PrivacyFloors {
  /** Largest budget epsilon per window (default 10). */
  maxEpsilon: number;
  /** Largest delta (default 1e-5). */
  maxDelta: number;
  /** Shortest budget window, in days (default 7). */
  minWindowDays: number;
  /** Fewest networks a round must have (default 10). */
  minCohort: number;
  /** Fewest batches behind any released per-activity statistic (default 5). */
  minKThreshold: number;
}

export const DEFAULT_PRIVACY_FLOORS: PrivacyFloors = { maxEpsilon: 10, maxDelta: 1e-5, minWindowDays: 7, minCohort: 10, minKThreshold: 5 };

/**
 * Why the device refuses to attach updates under these parameters, or null when it accepts
 * them. Besides the floors, the published cost of a contribution must be at least what the
 * published noise implies (ρ ≥ (1/z_g² + 1/z_h²)/2 for Gaussian noise z·C on each clipped sum):
 * a server cannot claim a cheap contribution and add little noise.
 */
export function privacyRefusal(params: PrivacyParameters, floors: PrivacyFloors = DEFAULT_PRIVACY_FLOORS): string | null {
  const { budget, update, aggregation } = params;
  if (budget.epsilon > floors.maxEpsilon) return `epsilon ${budget.epsilon} is above this device's limit of ${floors.maxEpsilon}`;
  if (budget.delta > floors.maxDelta) return `delta ${budget.delta} is above this device's limit of ${floors.maxDelta}`;
  if (budget.windowDays < floors.minWindowDays)
    return `a ${budget.windowDays}-day budget window is shorter than ${floors.minWindowDays} days`;
  if (aggregation.minCohort < floors.minCohort) return `rounds of ${aggregation.minCohort} networks are fewer than ${floors.minCohort}`;
  if (aggregation.kThreshold < floors.minKThreshold) return `k-threshold ${aggregation.kThreshold} is below ${floors.minKThreshold}`;
  const implied = (update.noiseMultiplierGradient ** -2 + update.noiseMultiplierCurvature ** -2) / 2;
  if (update.rhoPerContribution < implied * (1 - 1e-9)) {
    return `the published cost per contribution (rho ${update.rhoPerContribution}) is below what its noise implies (${implied})`;
  }
  if (update.rhoPerContribution > rhoForEpsilon(budget.epsilon, budget.delta) * (1 + 1e-12))
    return 'one contribution costs more than the whole budget';
  return null;
}

/** The shadow model's manifest URL, or why it is refused: only the endpoint's own origin may serve it. */
export function shadowUrl(shadowModel: string, endpointBase: string): { url: string } | { refused: string } {
  let url: URL;
  try {
    url = new URL(shadowModel, endpointBase);
  } catch {
    return { refused: `shadow model "${shadowModel.slice(0, 100)}" is not a URL` };
  }
  if (url.origin !== new URL(endpointBase).origin) return { refused: `shadow model on another origin (${url.origin}) refused` };
  return { url: url.href };
}
