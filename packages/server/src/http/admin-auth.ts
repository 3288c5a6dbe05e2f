/**
 * Owns the guard of every admin route (`/v1/admin/*`): always a bearer token, compared in
 * constant time; without VITRINE_ADMIN_TOKEN the routes are disabled. No loopback exception (a
 * same-host reverse proxy or any web page open on the host would pass it) and no CORS: no
 * Access-Control-* headers, and preflights are refused.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HttpError } from './errors';

export const ADMIN_DISABLED = 'admin: disabled; set VITRINE_ADMIN_TOKEN on the server and send it as "Authorization: Bearer <token>"';
export const ADMIN_UNAUTHORIZED = 'admin: needs "Authorization: Bearer <VITRINE_ADMIN_TOKEN>"';

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Constant-time comparison of the request's bearer token with the configured one (both hashed to 32 bytes first). */
export function bearerMatches(authorization: string | undefined, token: string): boolean {
  const match = /^Bearer ([\x21-\x7e]+)$/.exec(authorization ?? '');
  // Hash even when the header is absent or malformed, so the timing says nothing about why it failed.
  const ok = timingSafeEqual(digest(match ? match[1] : ''), digest(token));
  return ok && match !== null;
}

/** Route options for an admin route: the token check, no CORS, and a tight rate limit. */
export function adminRoute(adminToken: string | undefined) {
  return {
    // `cors: false`: @fastify/cors adds no headers to these routes.
    config: { cors: false, rateLimit: { max: 60, timeWindow: 60_000 } },
    onRequest: async (req: FastifyRequest) => {
      if (!adminToken) throw new HttpError(403, ADMIN_DISABLED);
      if (!bearerMatches(req.headers.authorization, adminToken)) throw new HttpError(401, ADMIN_UNAUTHORIZED);
    },
  };
}

/** Refuses every admin preflight (it would otherwise reach @fastify/cors' catch-all OPTIONS route and be allowed). */
export function refuseAdminPreflights(app: FastifyInstance): void {
  app.options('/v1/admin/*', { config: { cors: false } }, async () => {
    throw new HttpError(404, 'admin: not available cross-origin');
  });
}
