/**
 * Owns the admin report resource: GET /v1/admin/report, the JSON the dashboard draws
 * (report/report.ts). Guarded like every admin route (admin-auth.ts); computed at most once per
 * `cacheMs` (callers during a computation share it), as /v1/stats is, since it reads a month of
 * batches.
 */
import type { FastifyInstance } from 'fastify';
import { Cached } from '../cached';
import type { AdminReport } from '../report/report';
import { adminRoute } from './admin-auth';

export interface ReportRoutes {
  /** Drops the cached report (after a round or a policy change, so the next read shows it). */
  invalidate(): void;
}

export function registerAdminReportRoutes(
  app: FastifyInstance,
  deps: { adminToken?: string; build: () => Promise<AdminReport>; cacheMs: number },
): ReportRoutes {
  const cache = new Cached(async () => JSON.stringify(await deps.build()), deps.cacheMs);
  app.get('/v1/admin/report', adminRoute(deps.adminToken), async (_req, reply) =>
    reply
      .header('cache-control', 'no-store')
      .type('application/json; charset=utf-8')
      .send(await cache.get()),
  );
  return { invalidate: () => cache.invalidate() };
}
