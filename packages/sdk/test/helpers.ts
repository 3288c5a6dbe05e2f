import { UPDATE_METHOD } from '@vitrine/core/privacy';
/** Test doubles for the browser's fetch and Cache API (the real ones are exercised in e2e/). */
export function fakeFetch(files: Record<string, Uint8Array | string>): { fetch: typeof fetch; requests: string[] } {
  const requests: string[] = [];
  const fetchImpl = (async (input: RequestInfo | URL) => {
    const url = String(input instanceof Request ? input.url : input);
    requests.push(url);
    const body = files[url];
    if (body === undefined) return new Response('not found', { status: 404 });
    return new Response(typeof body === 'string' ? body : body.slice());
  }) as typeof fetch;
  return { fetch: fetchImpl, requests };
}

class InMemoryCache {
  entries = new Map<string, Uint8Array>();
  async match(key: string) {
    const v = this.entries.get(key);
    return v ? new Response(v.slice()) : undefined;
  }
  async put(key: string, res: Response) {
    this.entries.set(key, new Uint8Array(await res.arrayBuffer()));
  }
  async delete(key: string) {
    return this.entries.delete(key);
  }
}

export class InMemoryCacheStorage {
  caches = new Map<string, InMemoryCache>();
  async open(name: string) {
    if (!this.caches.has(name)) this.caches.set(name, new InMemoryCache());
    return this.caches.get(name)! as unknown as Cache;
  }
  async delete(name: string) {
    return this.caches.delete(name);
  }
  corruptAll() {
    for (const c of this.caches.values())
      for (const [k, v] of c.entries)
        if (!k.includes('last-good')) {
          v[0] ^= 0xff;
        }
  }
}

/** Privacy parameters as a server publishes them (GET /v1/privacy JSON) for `model`, with overrides to the update. */
export function privacyParametersJson(model: string, update: Record<string, unknown> = {}) {
  return {
    format: 'vitrine-privacy@1',
    budget: { epsilon: 8, delta: 1e-6, windowDays: 30 },
    update: {
      model,
      method: UPDATE_METHOD,
      dimension: 618,
      clipGradient: 1,
      clipCurvature: 0.5,
      // Consistent with the cost: (1/4.5² + 1/4.5²)/2 = 0.0494 ≤ 0.05 (the device checks it).
      noiseMultiplierGradient: 4.5,
      noiseMultiplierCurvature: 4.5,
      rhoPerContribution: 0.05,
      minHoursBetween: 240,
      ...update,
    },
    aggregation: { minCohort: 10, kThreshold: 5, perNetwork: 'mean' },
    expectations: null,
    currentModel: model,
    shadowModel: null,
  };
}
