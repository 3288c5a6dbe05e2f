/** Owns the admin rounds resource: POST /v1/admin/rounds runs a round now (admin guard: admin-auth.ts). */
import type { FastifyInstance } from 'fastify';
import type { RoundReport } from '../rounds/round';
import { adminRoute } from './admin-auth';

export function registerAdminRoundRoutes(app: FastifyInstance, deps: { adminToken?: string; aggregate: () => Promise<RoundReport> }): void {
  app.post('/v1/admin/rounds', adminRoute(deps.adminToken), async () => deps.aggregate());
}
