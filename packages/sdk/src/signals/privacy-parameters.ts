import * as v from 'valibot';
import type { ModelManifest } from '@vitrine/core/artifact';
import { UPDATE_METHOD, supportsUpdates, updateDimension } from '@vitrine/core/privacy';
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
