/**
 * Owns the public policy resource: GET /v1/policy, the merchant's rules, segments and pacing
 * multipliers as every device applies them (no personal data; the same answer for everyone).
 * Cross-origin GET like the models; a short public cache (the multipliers move every few
 * minutes) and an ETag of the version, so an unchanged policy costs a 304.
 */
import type { FastifyInstance } from 'fastify';
import type { PolicyService } from '../policy/service';

export function registerPolicyRoutes(
  app: FastifyInstance,
  deps: { policies: PolicyService; maxAgeS: number; rateLimit: { max: number; windowMs: number } },
): void {
  const config = { rateLimit: { max: deps.rateLimit.max, timeWindow: deps.rateLimit.windowMs } };
  app.get('/v1/policy', { config }, async (req, reply) => {
    const served = await deps.policies.served();
    const etag = `"${served.document.version}"`;
    reply.header('etag', etag).header('cache-control', `public, max-age=${deps.maxAgeS}`);
    if (req.headers['if-none-match'] === etag) return reply.code(304).send();
    return reply.type('application/json; charset=utf-8').send(served.json);
  });
}
