/** Owns the admin rounds resource: POST /v1/admin/rounds runs a round now (bearer token, or loopback when none is set). */
import type { FastifyInstance } from 'fastify';
import type { RoundReport } from '../rounds/round';
import { HttpError } from './errors';

const LOOPBACK = ['127.0.0.1', '::1', '::ffff:127.0.0.1'];

export function registerAdminRoundRoutes(app: FastifyInstance, deps: { adminToken?: string; aggregate: () => Promise<RoundReport> }): void {
  app.post('/v1/admin/rounds', async (req) => {
    const auth = req.headers.authorization;
    const allowed = deps.adminToken ? auth === `Bearer ${deps.adminToken}` : LOOPBACK.includes(req.ip);
    if (!allowed) throw new HttpError(403, 'admin: needs VITRINE_ADMIN_TOKEN as a bearer token (or a loopback request when none is set)');
    return deps.aggregate();
  });
}
