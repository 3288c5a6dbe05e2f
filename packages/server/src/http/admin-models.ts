/**
 * Owns the admin model routes: GET /v1/admin/models (signing key, current and shadow, the newest
 * signed publications) and POST /v1/admin/models/rollback `{ "version": "<retired version>" }`,
 * the only way an older model becomes current again: a new signed publication with a higher
 * sequence and `rollbackOf`. Guarded like every admin route (admin-auth.ts).
 */
import type { FastifyInstance } from 'fastify';
import { RollbackError, type ModelRegistry } from '../registry/registry';
import { adminRoute } from './admin-auth';
import { HttpError } from './errors';

export function registerAdminModelRoutes(app: FastifyInstance, deps: { adminToken?: string; registry: ModelRegistry }): void {
  const guarded = adminRoute(deps.adminToken);
  const { registry } = deps;

  app.get('/v1/admin/models', guarded, async () => ({
    signingKey: registry.signingKey(),
    current: registry.getCurrent()?.version ?? null,
    shadow: registry.getShadow()?.version ?? null,
    publications: await registry.publications(),
  }));

  app.post<{ Body: unknown }>('/v1/admin/models/rollback', guarded, async (req) => {
    const version = (req.body as { version?: unknown } | null)?.version;
    if (typeof version !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(version)) {
      throw new HttpError(400, 'version: must be the label of a retired model version', 'version');
    }
    try {
      return await registry.rollback(version);
    } catch (err) {
      if (err instanceof RollbackError) throw new HttpError(err.status, err.message, 'version');
      throw err;
    }
  });
}
