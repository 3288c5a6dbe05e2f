/**
 * Owns the admin model routes: GET /v1/admin/models (signing key, current and shadow, the newest
 * signed publications) and POST /v1/admin/models/rollback `{ "version": "<retired version>" }`,
 * the only way an older model becomes current again: a new signed publication with a higher
 * sequence and `rollbackOf`. Same guard as the admin rounds (admin-rounds.ts): always the bearer
 * token, compared in constant time; disabled without VITRINE_ADMIN_TOKEN; no CORS.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { RollbackError, type ModelRegistry } from '../registry/registry';
import { ADMIN_DISABLED, ADMIN_UNAUTHORIZED, bearerMatches } from './admin-rounds';
import { HttpError } from './errors';

export function registerAdminModelRoutes(app: FastifyInstance, deps: { adminToken?: string; registry: ModelRegistry }): void {
  const authorize = async (req: FastifyRequest) => {
    if (!deps.adminToken) throw new HttpError(403, ADMIN_DISABLED);
    if (!bearerMatches(req.headers.authorization, deps.adminToken)) throw new HttpError(401, ADMIN_UNAUTHORIZED);
  };
  const config = { cors: false, rateLimit: { max: 60, timeWindow: 60_000 } };
  const { registry } = deps;

  app.get('/v1/admin/models', { config, onRequest: authorize }, async () => ({
    signingKey: registry.signingKey(),
    current: registry.getCurrent()?.version ?? null,
    shadow: registry.getShadow()?.version ?? null,
    publications: await registry.publications(),
  }));

  app.post<{ Body: unknown }>('/v1/admin/models/rollback', { config, onRequest: authorize }, async (req) => {
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
