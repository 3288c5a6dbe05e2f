/**
 * Admin access for people and tools (issue #12): the bearer token or the dashboard's session
 * cookie, both refused when missing, wrong, forged or expired; the sign-in form's cookie and its
 * attributes; CSRF (Origin) on everything that changes state; rate-limited sign-in; the page's
 * headers (CSP, no CORS); and hostile inputs that must never reach a 5xx.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ServerConfig } from '../src/config';
import { ADMIN_CROSS_ORIGIN, SESSION_TTL_MS } from '../src/http/admin-auth';
import { CONTENT_SECURITY_POLICY, WRONG_TOKEN } from '../src/dashboard/routes';
import { createServer, type VitrineServer } from '../src/http/server';
import { openDb } from '../src/store/db';
import { testConfig } from './helpers';

const TOKEN = 'dashboard-test-token-0123456789abcdef';
const HOST = '127.0.0.1:8787';
const ORIGIN = `http://${HOST}`;
const FORM = 'application/x-www-form-urlencoded';

let servers: VitrineServer[] = [];
afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

async function start(over: Partial<ServerConfig> = {}): Promise<VitrineServer> {
  const s = await createServer(testConfig({ adminToken: TOKEN, ...over }), await openDb({}));
  servers.push(s);
  return s;
}

/** Each sign-in from its own address, so the sign-in rate limit (per address) is tested on its own. */
let nextAddress = 1;
const freshAddress = () => `10.1.${(nextAddress >> 8) & 255}.${nextAddress++ & 255}`;

function signIn(s: VitrineServer, body: string, headers: Record<string, string> = {}, remoteAddress = freshAddress()) {
  return s.app.inject({
    method: 'POST',
    url: '/dashboard/sign-in',
    headers: { host: HOST, origin: ORIGIN, 'content-type': FORM, ...headers },
    payload: body,
    remoteAddress,
  });
}

/** Signs in with the right token; returns the cookie pair ("name=value") the browser would send back. */
async function session(s: VitrineServer): Promise<string> {
  const res = await signIn(s, `token=${encodeURIComponent(TOKEN)}`);
  expect(res.statusCode).toBe(303);
  return String(res.headers['set-cookie']).split(';')[0];
}

const get = (s: VitrineServer, url: string, headers: Record<string, string> = {}) =>
  s.app.inject({ method: 'GET', url, headers: { host: HOST, ...headers } });

describe('admin access: bearer token or dashboard session', () => {
  it('without VITRINE_ADMIN_TOKEN everything is disabled (403), the page says how to enable it', async () => {
    const s = await start({ adminToken: undefined });
    const page = await get(s, '/dashboard');
    expect(page.statusCode).toBe(403);
    expect(page.body).toContain('VITRINE_ADMIN_TOKEN');
    expect(page.body).not.toContain('<form');
    expect((await signIn(s, 'token=anything-at-all-here')).statusCode).toBe(403);
    expect((await signIn(s, 'token=anything-at-all-here')).headers['set-cookie']).toBeUndefined();
    expect((await get(s, '/v1/admin/models', { authorization: 'Bearer anything-at-all-here' })).statusCode).toBe(403);
  });

  it('refuses a missing or wrong token (401) and accepts the right bearer token (200)', async () => {
    const s = await start();
    for (const authorization of [undefined, '', `Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(1)}`, `bearer ${TOKEN}`, `Basic ${TOKEN}`]) {
      const res = await get(s, '/v1/admin/models', authorization === undefined ? {} : { authorization });
      expect(res.statusCode, String(authorization)).toBe(401);
      expect(res.json().error).toMatch(/Bearer/);
    }
    const ok = await get(s, '/v1/admin/models', { authorization: `Bearer ${TOKEN}` });
    expect(ok.statusCode).toBe(200);
    expect(ok.json().current).toMatch(/^coupons-/);
    // The page too: the bearer token works for tools that fetch it.
    expect((await get(s, '/dashboard', { authorization: `Bearer ${TOKEN}` })).statusCode).toBe(200);
  });

  it('/dashboard without a session answers 401 with an accessible sign-in form and strict headers', async () => {
    const s = await start();
    const res = await get(s, '/dashboard', { origin: 'https://shop.example' });
    expect(res.statusCode).toBe(401);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.body).toMatch(/<label for="token">Admin token<\/label>/);
    expect(res.body).toMatch(/<input id="token" name="token" type="password"/);
    expect(res.body).toContain('action="/dashboard/sign-in"');
    expect(res.body).not.toMatch(/<script/);
    expect(res.headers['content-security-policy']).toBe(CONTENT_SECURITY_POLICY);
    expect(CONTENT_SECURITY_POLICY).toMatch(/^default-src 'self';/);
    expect(CONTENT_SECURITY_POLICY).not.toContain('unsafe-inline');
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.headers['referrer-policy']).toBe('same-origin'); // 'no-referrer' would make browsers send Origin: null
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
    const form = await get(s, '/dashboard/sign-in');
    expect(form.statusCode).toBe(200);
    expect(form.body).toContain('<button type="submit">Sign in</button>');
  });

  it('sign-in sets an HttpOnly, SameSite=Strict, Path=/ session cookie (not Secure over http) that then works', async () => {
    const s = await start();
    const res = await signIn(s, `token=${encodeURIComponent(TOKEN)}`);
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe('/dashboard');
    const cookie = String(res.headers['set-cookie']);
    const [pair, ...attributes] = cookie.split('; ');
    expect(pair).toMatch(/^vitrine-admin=[A-Za-z0-9_-]{43}$/);
    expect(attributes.sort()).toEqual(['HttpOnly', `Max-Age=${SESSION_TTL_MS / 1000}`, 'Path=/', 'SameSite=Strict']);
    // The token itself never appears in the cookie.
    expect(cookie).not.toContain(TOKEN);

    const page = await get(s, '/dashboard', { cookie: pair });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('<script src="/dashboard/app.js" defer></script>');
    expect(page.body).not.toMatch(/<script>|<style|style="/);
    expect((await get(s, '/v1/admin/models', { cookie: `other=1; ${pair}; more=2` })).statusCode).toBe(200);
    // The report the page draws, read with the cookie alone (as the page's same-origin fetch does).
    const report = await get(s, '/v1/admin/report', { cookie: pair });
    expect(report.statusCode).toBe(200);
    expect(report.json().k).toBe(testConfig().privacy.kThreshold);
    expect((await get(s, '/v1/admin/report')).statusCode).toBe(401);
  });

  it('over https (behind a trusted proxy) the cookie is Secure and __Host- prefixed', async () => {
    const s = await start({ trustProxy: true });
    const res = await signIn(s, `token=${encodeURIComponent(TOKEN)}`, { 'x-forwarded-proto': 'https', origin: `https://${HOST}` });
    expect(res.statusCode).toBe(303);
    const cookie = String(res.headers['set-cookie']);
    expect(cookie).toMatch(/^__Host-vitrine-admin=[A-Za-z0-9_-]{43}; /);
    expect(cookie.split('; ')).toContain('Secure');
    const pair = cookie.split(';')[0];
    expect((await get(s, '/v1/admin/models', { cookie: pair, 'x-forwarded-proto': 'https' })).statusCode).toBe(200);
    // The https cookie name is not read over plain http (where the browser would not have sent it).
    expect((await get(s, '/v1/admin/models', { cookie: pair })).statusCode).toBe(401);
  });

  it('refuses a wrong token at sign-in (401 page with the error, no cookie)', async () => {
    const s = await start();
    for (const body of ['token=wrong-token-0123456789abcdef', `token=${encodeURIComponent(TOKEN)}x`, 'token=', '', 'nothing=here']) {
      const res = await signIn(s, body);
      expect(res.statusCode, body).toBe(401);
      expect(res.headers['set-cookie']).toBeUndefined();
      expect(res.body).toContain('role="alert"');
      expect(res.body).toContain(WRONG_TOKEN);
    }
  });

  it('refuses forged, malformed and stale cookies (401)', async () => {
    const s = await start();
    const real = await session(s);
    const value = real.split('=')[1];
    const flipped = value.slice(0, -1) + (value.endsWith('A') ? 'B' : 'A');
    for (const cookie of [
      `vitrine-admin=${flipped}`,
      `vitrine-admin=${'A'.repeat(43)}`,
      `vitrine-admin=${value}x`,
      `vitrine-admin=${TOKEN}`,
      `vitrine-admin=`,
      `Vitrine-Admin=${value}`,
      `__Host-vitrine-admin=${value}`,
      `vitrine-admin="${value}"`,
      `vitrine-admin=${value.slice(0, 20)}`,
      `x=${'y'.repeat(9000)}; ${real}`,
    ]) {
      expect((await get(s, '/v1/admin/models', { cookie })).statusCode, cookie.slice(0, 80)).toBe(401);
      expect((await get(s, '/dashboard', { cookie })).statusCode, cookie.slice(0, 80)).toBe(401);
    }
    // A session of one server means nothing to another (sessions live in the server that made them).
    const other = await start();
    expect((await get(other, '/v1/admin/models', { cookie: real })).statusCode).toBe(401);
  });

  it('an expired session is refused (401)', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const t0 = Date.now();
    const s = await start();
    const cookie = await session(s);
    vi.setSystemTime(t0 + SESSION_TTL_MS - 1000);
    expect((await get(s, '/v1/admin/models', { cookie })).statusCode).toBe(200);
    vi.setSystemTime(t0 + SESSION_TTL_MS + 1);
    expect((await get(s, '/v1/admin/models', { cookie })).statusCode).toBe(401);
    expect((await get(s, '/dashboard', { cookie })).statusCode).toBe(401);
    vi.setSystemTime(t0); // forgotten once seen expired: going back does not revive it
    expect((await get(s, '/v1/admin/models', { cookie })).statusCode).toBe(401);
  });

  it('sign-out ends the session on the server and clears the cookie', async () => {
    const s = await start();
    const cookie = await session(s);
    const kept = await session(s); // another browser's session is not touched
    const out = await s.app.inject({ method: 'POST', url: '/dashboard/sign-out', headers: { host: HOST, origin: ORIGIN, cookie } });
    expect(out.statusCode).toBe(303);
    expect(out.headers.location).toBe('/dashboard/sign-in');
    expect(String(out.headers['set-cookie'])).toMatch(/^vitrine-admin=; Path=\/; HttpOnly; SameSite=Strict; Max-Age=0$/);
    expect((await get(s, '/v1/admin/models', { cookie })).statusCode).toBe(401);
    expect((await get(s, '/v1/admin/models', { cookie: kept })).statusCode).toBe(200);
  });

  it('CSRF: session requests that change state need this origin; sign-in and sign-out too', async () => {
    const s = await start();
    const cookie = await session(s);
    const round = (headers: Record<string, string>) =>
      s.app.inject({ method: 'POST', url: '/v1/admin/rounds', headers: { host: HOST, cookie, ...headers } });
    const origins: Record<string, string>[] = [{}, { origin: 'https://evil.example' }, { origin: 'null' }, { origin: `https://${HOST}` }];
    for (const headers of origins) {
      const res = await round(headers);
      expect(res.statusCode, JSON.stringify(headers)).toBe(403);
      expect(res.json().error).toBe(ADMIN_CROSS_ORIGIN);
    }
    expect((await round({ origin: ORIGIN })).statusCode).toBe(200);
    // A bearer token is not sent by browsers on their own: no Origin needed.
    const bearer = await s.app.inject({ method: 'POST', url: '/v1/admin/rounds', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(bearer.statusCode).toBe(200);
    // Login CSRF: a right token posted from elsewhere sets nothing.
    for (const origin of ['https://evil.example', 'null', '']) {
      const res = await signIn(s, `token=${encodeURIComponent(TOKEN)}`, { origin });
      expect(res.statusCode).toBe(403);
      expect(res.headers['set-cookie']).toBeUndefined();
    }
    const out = await s.app.inject({
      method: 'POST',
      url: '/dashboard/sign-out',
      headers: { host: HOST, origin: 'https://evil.example', cookie },
    });
    expect(out.statusCode).toBe(403);
    expect((await get(s, '/v1/admin/models', { cookie })).statusCode).toBe(200);
  });

  it('no CORS: dashboard preflights are refused and answers carry no Access-Control headers', async () => {
    const s = await start();
    for (const url of ['/dashboard', '/dashboard/sign-in', '/dashboard/sign-out']) {
      const res = await s.app.inject({
        method: 'OPTIONS',
        url,
        headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
      });
      expect(res.statusCode, url).toBe(404);
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
    }
    const res = await signIn(s, `token=${encodeURIComponent(TOKEN)}`);
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('rate-limits sign-in attempts per client address', async () => {
    const s = await start();
    const address = freshAddress();
    const codes: number[] = [];
    for (let i = 0; i < 12; i++) codes.push((await signIn(s, 'token=wrong-token-0123456789abcdef', {}, address)).statusCode);
    expect(codes.slice(0, 10)).toEqual(Array(10).fill(401));
    expect(codes.slice(10)).toEqual([429, 429]);
    // Even the right token waits out the window from that address; another address is not affected.
    expect((await signIn(s, `token=${encodeURIComponent(TOKEN)}`, {}, address)).statusCode).toBe(429);
    expect((await signIn(s, `token=${encodeURIComponent(TOKEN)}`)).statusCode).toBe(303);
  });

  it('hostile sign-in bodies, cookies and headers never answer 5xx', async () => {
    const s = await start({ logger: false });
    const fixed: [string, string][] = [
      ['x'.repeat(10_000), FORM], // larger than the form's limit: 413
      [`token=${'%'.repeat(1500)}`, FORM],
      ['token=%E0%A4%A&token=%FF%FE', FORM],
      [`token=${encodeURIComponent(TOKEN)}&token=${encodeURIComponent(TOKEN)}`, FORM],
      ['token=\u0000\u202e\ud83d', FORM],
      [JSON.stringify({ token: TOKEN }), 'application/json'],
      [`token=${encodeURIComponent(TOKEN)}`, 'text/plain'],
      ['--x\r\nContent-Disposition: form-data; name="token"\r\n\r\nabc\r\n--x--', 'multipart/form-data; boundary=x'],
      [`token=${encodeURIComponent(TOKEN)}`, `${FORM}; charset=iso-8859-1`],
      ['', ''],
    ];
    for (const [body, type] of fixed) {
      const res = await signIn(s, body, type ? { 'content-type': type } : {});
      expect(res.statusCode, `${type} ${body.slice(0, 40)}`).toBeGreaterThanOrEqual(200);
      expect(res.statusCode, `${type} ${body.slice(0, 40)}`).toBeLessThan(500);
      expect(res.headers['set-cookie'], `${type} ${body.slice(0, 40)}`).toSatisfy(
        (c: unknown) => c === undefined || (type.startsWith(FORM) && body === `token=${encodeURIComponent(TOKEN)}`),
      );
    }
    expect((await signIn(s, 'x'.repeat(10_000))).statusCode).toBe(413);
    await fc.assert(
      fc.asyncProperty(
        fc.string({ maxLength: 300 }),
        fc.constantFrom(FORM, 'application/json', 'text/plain', 'application/octet-stream'),
        fc.string({ maxLength: 200 }),
        async (body, type, cookie) => {
          const res = await signIn(s, body, { 'content-type': type });
          expect(res.statusCode).toBeLessThan(500);
          // Header values must be valid bytes for a header; anything else is the HTTP layer's to refuse.
          const safeCookie = cookie.replace(/[^\x20-\x7e]/g, '');
          const page = await get(s, '/dashboard', { cookie: safeCookie, authorization: safeCookie });
          expect(page.statusCode).toBe(401);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('serves the page script (Chart.js bundled, no eval) and stylesheet with the CSP, revalidated by ETag', async () => {
    const s = await start();
    const js = await get(s, '/dashboard/app.js');
    expect(js.statusCode).toBe(200);
    expect(js.headers['content-type']).toMatch(/^text\/javascript/);
    expect(js.headers['content-security-policy']).toBe(CONTENT_SECURITY_POLICY);
    expect(js.body).toContain('/v1/admin/report');
    expect(js.body.length).toBeGreaterThan(50_000); // Chart.js is in it: the page loads nothing from elsewhere
    expect(js.body).not.toMatch(/\beval\(|new Function\(/);
    const again = await get(s, '/dashboard/app.js', { 'if-none-match': String(js.headers.etag) });
    expect(again.statusCode).toBe(304);
    const css = await get(s, '/dashboard/app.css');
    expect(css.statusCode).toBe(200);
    expect(css.headers['content-type']).toMatch(/^text\/css/);
  });
});
