/**
 * Owns the admin routes (`/v1/admin/*`; today POST /v1/admin/rounds runs a round now): always a
 * bearer token, compared in constant time; without VITRINE_ADMIN_TOKEN they are disabled. No
 * loopback exception (a same-host reverse proxy or any web page open on the host would pass it)
 * and no CORS: no Access-Control-* headers, and preflights are refused.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { RoundReport } from '../rounds/round';
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

export function registerAdminRoundRoutes(app: FastifyInstance, deps: { adminToken?: string; aggregate: () => Promise<RoundReport> }): void {
  const authorize = async (req: FastifyRequest) => {
    if (!deps.adminToken) throw new HttpError(403, ADMIN_DISABLED);
    if (!bearerMatches(req.headers.authorization, deps.adminToken)) throw new HttpError(401, ADMIN_UNAUTHORIZED);
  };
  // `cors: false`: @fastify/cors adds no headers to these routes.
  const config = { cors: false, rateLimit: { max: 60, timeWindow: 60_000 } };
  app.post('/v1/admin/rounds', { config, onRequest: authorize }, async () => deps.aggregate());
  // A preflight would otherwise reach @fastify/cors' catch-all OPTIONS route and be allowed.
  app.options('/v1/admin/*', { config: { cors: false } }, async () => {
    throw new HttpError(404, 'admin: not available cross-origin');
  });
}
