/**
 * Owns the admin policy resource: GET /v1/admin/policy (the stored rules and segments, and the
 * document devices get now) and PUT /v1/admin/policy `{ "rules": {…}, "segments": […] }`, checked
 * against the shared schemas (a refused body is a 400 naming the field). Guarded like every admin
 * route (admin-auth.ts).
 */
import type { FastifyInstance } from 'fastify';
import type { PolicyService, ServedPolicy } from '../policy/service';
import { parsePolicy, PolicyError } from '../policy/validate';
import { adminRoute } from './admin-auth';
import { HttpError } from './errors';

export function registerAdminPolicyRoutes(
  app: FastifyInstance,
  deps: { adminToken?: string; policies: PolicyService; catalog: () => Set<string>; segmentRefusal: string | null },
): void {
  const guarded = adminRoute(deps.adminToken);
  const { policies } = deps;

  app.get('/v1/admin/policy', guarded, async () => {
    const [stored, served] = await Promise.all([policies.stored(), policies.served()]);
    return answer(stored, served, []);
  });

  app.put<{ Body: unknown }>('/v1/admin/policy', guarded, async (req) => {
    let policy;
    try {
      policy = parsePolicy(req.body);
    } catch (err) {
      if (err instanceof PolicyError) throw new HttpError(400, err.message, err.field);
      throw err;
    }
    const served = await policies.replace(policy, 'admin');
    const notes = warnings(policy.rules.pacing ?? [], deps.catalog());
    if (policy.segments.length && deps.segmentRefusal) notes.push(deps.segmentRefusal);
    return answer(await policies.stored(), served, notes);
  });
}

function answer(stored: Awaited<ReturnType<PolicyService['stored']>>, served: ServedPolicy, warnings: string[]) {
  return {
    rules: stored?.rules ?? {},
    segments: stored?.segments ?? [],
    source: stored?.source ?? null,
    updatedAt: stored?.updatedAt ?? null,
    segmentEpsilon: served.segmentEpsilon,
    document: served.document,
    pacing: served.pacing,
    warnings,
  };
}

/** Budgets the server can never count: their activity is not in the current model's catalog, so ingest refuses its events. */
function warnings(budgets: { activity: string }[], catalog: Set<string>): string[] {
  return budgets
    .filter((b) => !catalog.has(b.activity))
    .map(
      (b) =>
        `pacing: "${b.activity}" is not in the current model's catalog; its signals are refused at ingest, ` +
        'so it is never counted and its multiplier stays 1',
    );
}
