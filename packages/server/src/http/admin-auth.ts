/**
 * Owns the guard of every admin route (`/v1/admin/*`) and of the dashboard: a bearer token (for
 * tools) or a dashboard session cookie (for people), both checked in constant time; without
 * VITRINE_ADMIN_TOKEN the routes are disabled. No loopback exception (a same-host reverse proxy or
 * any web page open on the host would pass it) and no CORS: no Access-Control-* headers, and
 * preflights are refused.
 *
 * Sessions are random 256-bit ids kept in this process's memory (only their SHA-256), with an
 * absolute expiry. Chosen over an HMAC-signed expiring cookie because signing out then really
 * ends the session (a signed value stays valid until it expires unless a deny-list is kept, which
 * is server memory again), nothing derived from a long-lived secret travels in the cookie, and a
 * restart or a changed admin token ends every session. The price: sessions do not survive a
 * restart and are not shared between replicas (people sign in again; tools use the bearer token).
 *
 * CSRF: the cookie is SameSite=Strict, and a request authenticated by the cookie with a method
 * other than GET/HEAD must carry an Origin header equal to the server's own origin.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HttpError } from './errors';

export const ADMIN_DISABLED = 'admin: disabled; set VITRINE_ADMIN_TOKEN on the server and send it as "Authorization: Bearer <token>"';
export const ADMIN_UNAUTHORIZED = 'admin: needs "Authorization: Bearer <VITRINE_ADMIN_TOKEN>" or a dashboard session (/dashboard/sign-in)';
export const ADMIN_CROSS_ORIGIN = 'admin: a session request that changes something must come from the dashboard itself (Origin)';

/** How long a dashboard session lasts after sign-in (absolute; signing in again starts a new one). */
export const SESSION_TTL_MS = 8 * 60 * 60 * 1000;
/** Most live sessions kept; beyond it the oldest is ended (every session needed the token, so this only bounds memory). */
export const MAX_SESSIONS = 1000;

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Constant-time comparison of a candidate token with the configured one (both hashed to 32 bytes first). */
export function tokenMatches(candidate: string | undefined, token: string): boolean {
  // Hash even when there is no candidate, so the timing says nothing about why it failed.
  const ok = timingSafeEqual(digest(candidate ?? ''), digest(token));
  return ok && candidate !== undefined;
}

/** Constant-time comparison of the request's bearer token with the configured one. */
export function bearerMatches(authorization: string | undefined, token: string): boolean {
  const match = /^Bearer ([\x21-\x7e]+)$/.exec(authorization ?? '');
  return tokenMatches(match ? match[1] : undefined, token);
}

/** The dashboard's sessions: SHA-256 of each random id → its expiry (epoch ms). Insertion order = age. */
export class AdminSessions {
  private readonly expiries = new Map<string, number>();

  constructor(
    private readonly now: () => number = Date.now,
    readonly ttlMs = SESSION_TTL_MS,
    private readonly max = MAX_SESSIONS,
  ) {}

  /** A new session: its id (43 characters of base64url; only the cookie holds it) and when it ends. */
  create(): { id: string; expiresAt: number } {
    const now = this.now();
    for (const [key, expiresAt] of this.expiries) if (expiresAt <= now) this.expiries.delete(key);
    while (this.expiries.size >= this.max) this.expiries.delete(this.expiries.keys().next().value as string);
    const id = randomBytes(32).toString('base64url');
    const expiresAt = now + this.ttlMs;
    this.expiries.set(digest(id).toString('hex'), expiresAt);
    return { id, expiresAt };
  }

  /** Whether `id` names a live session (an expired one is forgotten on the way). */
  valid(id: string | undefined): boolean {
    if (id === undefined || !SESSION_ID.test(id)) return false;
    // Looked up by hash: the map's timing depends on the hash, which says nothing about a live id.
    const key = digest(id).toString('hex');
    const expiresAt = this.expiries.get(key);
    if (expiresAt === undefined) return false;
    if (expiresAt <= this.now()) {
      this.expiries.delete(key);
      return false;
    }
    return true;
  }

  revoke(id: string | undefined): void {
    if (id !== undefined && SESSION_ID.test(id)) this.expiries.delete(digest(id).toString('hex'));
  }

  get size(): number {
    return this.expiries.size;
  }
}

const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

/** The cookie's name: with the `__Host-` prefix over HTTPS (the browser then insists on Secure, Path=/ and no Domain). */
export function sessionCookieName(req: FastifyRequest): string {
  return req.protocol === 'https' ? '__Host-vitrine-admin' : 'vitrine-admin';
}

/** The value of cookie `name` in the request, or undefined (a malformed header counts as no cookie). */
export function readCookie(req: FastifyRequest, name: string): string | undefined {
  const header = req.headers.cookie;
  if (typeof header !== 'string' || header.length > 8192) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** The Set-Cookie value for a new session (`maxAgeS` 0 clears it). HttpOnly, SameSite=Strict, Path=/, Secure over HTTPS. */
export function sessionCookie(req: FastifyRequest, value: string, maxAgeS: number): string {
  const attributes = [
    `${sessionCookieName(req)}=${value}`,
    'Path=/',
    'HttpOnly',
    'SameSite=Strict',
    `Max-Age=${Math.max(0, Math.floor(maxAgeS))}`,
  ];
  if (req.protocol === 'https') attributes.push('Secure');
  return attributes.join('; ');
}

/** Whether the request's Origin header is this server's own origin (as the request reached it: protocol and Host). */
export function sameOrigin(req: FastifyRequest): boolean {
  const origin = req.headers.origin;
  return typeof origin === 'string' && origin === `${req.protocol}://${req.host}`;
}

/** Where a server's sessions live: decorated onto the Fastify instance by the dashboard (dashboard/routes.ts). */
const SESSIONS = 'vitrineAdminSessions';

export function installAdminSessions(app: FastifyInstance, sessions: AdminSessions): void {
  app.decorate(SESSIONS, sessions);
}

function sessionsOf(req: FastifyRequest): AdminSessions | undefined {
  const found = (req.server as unknown as Record<string, unknown>)[SESSIONS];
  return found instanceof AdminSessions ? found : undefined;
}

/** The request's dashboard session id, if it names a live session of this server. */
export function liveSession(req: FastifyRequest): string | undefined {
  const id = readCookie(req, sessionCookieName(req));
  return sessionsOf(req)?.valid(id) ? id : undefined;
}

export type AdminAccess = 'bearer' | 'session';

/**
 * How the request proves it is the admin, or the HttpError to answer with: 403 when no token is
 * configured, 401 without a valid bearer token or session, 403 for a session request that changes
 * something from another origin.
 */
export function adminAccess(req: FastifyRequest, adminToken: string | undefined): AdminAccess | HttpError {
  if (!adminToken) return new HttpError(403, ADMIN_DISABLED);
  if (bearerMatches(req.headers.authorization, adminToken)) return 'bearer';
  if (liveSession(req) === undefined) return new HttpError(401, ADMIN_UNAUTHORIZED);
  const safe = req.method === 'GET' || req.method === 'HEAD';
  if (!safe && !sameOrigin(req)) return new HttpError(403, ADMIN_CROSS_ORIGIN);
  return 'session';
}

/** Route options for an admin route: the token or session check, no CORS, and a tight rate limit. */
export function adminRoute(adminToken: string | undefined) {
  return {
    // `cors: false`: @fastify/cors adds no headers to these routes.
    config: { cors: false, rateLimit: { max: 60, timeWindow: 60_000 } },
    onRequest: async (req: FastifyRequest) => {
      const access = adminAccess(req, adminToken);
      if (access instanceof HttpError) throw access;
    },
  };
}

/** Refuses every admin and dashboard preflight (it would otherwise reach @fastify/cors' catch-all OPTIONS route and be allowed). */
export function refuseAdminPreflights(app: FastifyInstance, paths: string[] = ['/v1/admin/*']): void {
  for (const path of paths) {
    app.options(path, { config: { cors: false } }, async () => {
      throw new HttpError(404, 'admin: not available cross-origin');
    });
  }
}
