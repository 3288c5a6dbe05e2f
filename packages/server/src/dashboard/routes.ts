/**
 * Owns the dashboard's routes: GET /dashboard (the page; without the admin token or a session a
 * 401 page holding the sign-in form), GET/POST /dashboard/sign-in, POST /dashboard/sign-out and
 * the page's script and stylesheet. Who may see it is decided by http/admin-auth.ts, as for every
 * admin route; the page reads its data from GET /v1/admin/report with the session cookie.
 *
 * Every answer carries a CSP of `default-src 'self'` (no inline script or style), refuses framing
 * and sends no referrer to other origins; none has CORS headers, and preflights are refused.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  AdminSessions,
  adminAccess,
  installAdminSessions,
  readCookie,
  refuseAdminPreflights,
  sameOrigin,
  sessionCookie,
  sessionCookieName,
  tokenMatches,
} from '../http/admin-auth';
import { HttpError } from '../http/errors';
import { bundleClient, memoize, readStylesheet, type Asset } from './assets';
import { dashboardPage, disabledPage, signInPage } from './pages';

export interface DashboardDeps {
  adminToken?: string;
  /** The sessions' clock (tests move it past the expiry). */
  now?: () => number;
  /** Sign-in attempts per client address and minute. */
  signInPerMinute?: number;
}

export const CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/** The sign-in form's body: `token=…`, and nothing else of size. */
const SIGN_IN_BODY_LIMIT = 2048;
const MAX_TOKEN_LENGTH = 512;

export const WRONG_TOKEN = 'That is not the admin token. Check VITRINE_ADMIN_TOKEN on the server and try again.';
export const CROSS_ORIGIN = 'Sign-in and sign-out are accepted only from this server’s own pages.';
const SIGN_IN_REQUIRED = 'Sign in to see the dashboard.';

function secure(reply: FastifyReply, cacheable = false): FastifyReply {
  return (
    reply
      .header('content-security-policy', CONTENT_SECURITY_POLICY)
      .header('x-content-type-options', 'nosniff')
      .header('x-frame-options', 'DENY')
      // Not 'no-referrer': under it browsers send `Origin: null` with a form POST, and the CSRF check needs the real one.
      .header('referrer-policy', 'same-origin')
      .header('cross-origin-resource-policy', 'same-origin')
      .header('cache-control', cacheable ? 'no-cache' : 'no-store')
  );
}

const html = (reply: FastifyReply, status: number, body: string) => secure(reply).code(status).type('text/html; charset=utf-8').send(body);

export function registerDashboardRoutes(app: FastifyInstance, deps: DashboardDeps): void {
  const { adminToken } = deps;
  const sessions = new AdminSessions(deps.now ?? Date.now);
  // On the root instance: every admin route (wherever registered) finds this server's sessions.
  installAdminSessions(app, sessions);
  refuseAdminPreflights(app, ['/dashboard', '/dashboard/*']);
  const script = memoize(bundleClient);
  const stylesheet = memoize(readStylesheet);
  // `cors: false`: @fastify/cors adds no headers to these routes.
  const pageConfig = { cors: false, rateLimit: { max: 120, timeWindow: 60_000 } };
  const signInConfig = { cors: false, rateLimit: { max: deps.signInPerMinute ?? 10, timeWindow: 60_000 } };

  const serveAsset = async (req: FastifyRequest, reply: FastifyReply, load: () => Promise<Asset>) => {
    const a = await load();
    secure(reply, true).header('etag', a.etag).type(a.type);
    return req.headers['if-none-match'] === a.etag ? reply.code(304).send() : reply.send(a.body);
  };

  // Encapsulated: the form parser below serves these routes only (the API keeps its own body types).
  void app.register(async (dash) => {
    dash.addContentTypeParser(
      'application/x-www-form-urlencoded',
      { parseAs: 'string', bodyLimit: SIGN_IN_BODY_LIMIT },
      (_req, body, done) => done(null, new URLSearchParams(body as string)),
    );

    dash.get('/dashboard', { config: pageConfig }, async (req, reply) => {
      const access = adminAccess(req, adminToken);
      if (access instanceof HttpError) {
        return access.status === 403 ? html(reply, 403, disabledPage()) : html(reply, 401, signInPage(SIGN_IN_REQUIRED));
      }
      return html(reply, 200, dashboardPage());
    });

    dash.get('/dashboard/sign-in', { config: pageConfig }, async (_req, reply) =>
      adminToken ? html(reply, 200, signInPage()) : html(reply, 403, disabledPage()),
    );

    dash.post<{ Body: unknown }>('/dashboard/sign-in', { config: signInConfig, bodyLimit: SIGN_IN_BODY_LIMIT }, async (req, reply) => {
      if (!adminToken) return html(reply, 403, disabledPage());
      // CSRF: the cookie is SameSite=Strict; the form must also come from this origin (login CSRF included).
      if (!sameOrigin(req)) return html(reply, 403, signInPage(CROSS_ORIGIN));
      if (!(req.body instanceof URLSearchParams)) throw new HttpError(415, 'sign-in: send the form (application/x-www-form-urlencoded)');
      const tokens = req.body.getAll('token');
      const candidate = tokens.length === 1 && tokens[0].length <= MAX_TOKEN_LENGTH ? tokens[0] : undefined;
      if (!tokenMatches(candidate, adminToken)) return html(reply, 401, signInPage(WRONG_TOKEN));
      sessions.revoke(readCookie(req, sessionCookieName(req))); // a new session replaces the browser's old one
      const session = sessions.create();
      return secure(reply)
        .header('set-cookie', sessionCookie(req, session.id, sessions.ttlMs / 1000))
        .redirect('/dashboard', 303);
    });

    dash.post('/dashboard/sign-out', { config: pageConfig, bodyLimit: SIGN_IN_BODY_LIMIT }, async (req, reply) => {
      if (!sameOrigin(req)) return html(reply, 403, signInPage(CROSS_ORIGIN));
      sessions.revoke(readCookie(req, sessionCookieName(req)));
      return secure(reply)
        .header('set-cookie', sessionCookie(req, '', 0))
        .redirect('/dashboard/sign-in', 303);
    });

    // Code and style only, no data: served without sign-in (the sign-in page uses the stylesheet).
    dash.get('/dashboard/app.js', { config: pageConfig }, (req, reply) => serveAsset(req, reply, script));
    dash.get('/dashboard/app.css', { config: pageConfig }, (req, reply) => serveAsset(req, reply, stylesheet));
  });
}
