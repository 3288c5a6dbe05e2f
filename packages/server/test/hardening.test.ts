/**
 * Server hardening (issue #10), on PGlite and PostgreSQL: admin routes always need a token and are
 * outside CORS; X-Forwarded-For is believed only from configured proxies; Retry-After is readable
 * cross-origin; /v1/stats is cached (one computation shared) and rate-limited; bad paths answer 4xx
 * without internals and without error logs.
 */
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { bearerMatches } from '../src/http/admin-auth';
import { parseTrustProxy, type ServerConfig } from '../src/config';
import { createServer, type VitrineServer } from '../src/http/server';
import { openDb, type Db } from '../src/store/db';
import {
  SEED_VERSION,
  deviceUpdate,
  honestAddress,
  postFrom,
  postgresReachable,
  resetPostgresSchema,
  signalBatch as batch,
  TEST_PG_URL,
  testConfig,
} from './helpers';

const pgAvailable = await postgresReachable();
const TOKEN = 'test-admin-token-0123456789abcdef';
const ORIGIN = 'https://shop.example';

const stores: [string, () => Promise<Db>][] = [
  ['embedded PGlite', () => openDb({})],
  ['PostgreSQL', async () => openDb({ databaseUrl: await resetPostgresSchema('hardening') })],
];

describe.each(stores)('hardening on %s', (name, open) => {
  const skip = name === 'PostgreSQL' && !pgAvailable;
  if (skip) console.warn(`PostgreSQL hardening tests skipped: nothing answers at ${TEST_PG_URL} (set VITRINE_TEST_DATABASE_URL)`);
  let server: VitrineServer | undefined;
  const start = async (over: Partial<ServerConfig> = {}, wrap: (db: Db) => Db = (db) => db) => {
    server = await createServer(testConfig(over), wrap(await open()));
    return server;
  };
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });
  /** Enough contributors (testConfig's cohort of 5 networks) that a round publishes a shadow and stores a row. */
  const readyForRound = async (s: VitrineServer) => {
    for (let i = 0; i < 6; i++) {
      const res = await postFrom(s, batch({ update: deviceUpdate((j) => Math.sin(i + j), 0.5) }), honestAddress(i));
      expect(res.statusCode).toBe(202);
    }
  };
  const roundCount = async (s: VitrineServer) => Number((await s.db.query<{ n: number }>('select count(*)::int as n from rounds'))[0].n);

  describe('admin routes', () => {
    it.skipIf(skip)('without VITRINE_ADMIN_TOKEN they are disabled, for loopback and proxied requests too', async () => {
      const s = await start();
      await readyForRound(s);
      for (const headers of [{}, { 'x-forwarded-for': '127.0.0.1' }, { authorization: 'Bearer anything-at-all-here' }]) {
        for (const remoteAddress of ['127.0.0.1', '::1']) {
          const res = await s.app.inject({ method: 'POST', url: '/v1/admin/rounds', headers, remoteAddress });
          expect(res.statusCode).toBe(403);
          expect(res.json().error).toContain('VITRINE_ADMIN_TOKEN');
        }
      }
      expect(await roundCount(s)).toBe(0);
    });

    it.skipIf(skip)('need the exact bearer token; the right one runs a round', async () => {
      const s = await start({ adminToken: TOKEN });
      await readyForRound(s);
      const wrong = [undefined, '', TOKEN, `Bearer ${TOKEN.slice(0, -1)}`, `Bearer ${TOKEN}x`, `bearer ${TOKEN}`, `Basic ${TOKEN}`];
      for (const authorization of wrong) {
        const res = await s.app.inject({
          method: 'POST',
          url: '/v1/admin/rounds',
          headers: authorization === undefined ? {} : { authorization },
        });
        expect(res.statusCode, String(authorization)).toBe(401);
      }
      expect(await roundCount(s)).toBe(0);
      const ok = await s.app.inject({ method: 'POST', url: '/v1/admin/rounds', headers: { authorization: `Bearer ${TOKEN}` } });
      expect(ok.statusCode).toBe(200);
      expect(ok.json()).toMatchObject({ model: SEED_VERSION, status: 'published-shadow' });
      expect(await roundCount(s)).toBe(1);
    });

    it.skipIf(skip)('are outside CORS: no Access-Control-Allow-Origin, preflight refused (public routes keep CORS)', async () => {
      const s = await start({ adminToken: TOKEN });
      const preflight = (url: string) =>
        s.app.inject({
          method: 'OPTIONS',
          url,
          headers: { origin: ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' },
        });
      const adminPreflight = await preflight('/v1/admin/rounds');
      expect(adminPreflight.statusCode).toBe(404);
      expect(adminPreflight.headers['access-control-allow-origin']).toBeUndefined();
      expect(adminPreflight.headers['access-control-allow-methods']).toBeUndefined();
      expect((await preflight('/v1/admin/anything-later')).headers['access-control-allow-origin']).toBeUndefined();
      for (const headers of [{ origin: ORIGIN }, { origin: ORIGIN, authorization: `Bearer ${TOKEN}` }]) {
        const res = await s.app.inject({ method: 'POST', url: '/v1/admin/rounds', headers });
        expect(res.headers['access-control-allow-origin']).toBeUndefined();
        expect(res.headers['access-control-expose-headers']).toBeUndefined();
      }
      // Control: the public API is still cross-origin.
      const signalsPreflight = await preflight('/v1/signals');
      expect(signalsPreflight.statusCode).toBe(204);
      expect(signalsPreflight.headers['access-control-allow-origin']).toBe('*');
    });

    it.skipIf(skip)('refuse a short token at start', async () => {
      await expect(start({ adminToken: 'short' })).rejects.toThrow(/at least 16/);
    });
  });

  describe('client addresses (trustProxy)', () => {
    const PROXY = '10.9.8.7';
    const flood = async (s: VitrineServer, n: number, headers: (i: number) => Record<string, string>, remoteAddress = PROXY) => {
      const codes: number[] = [];
      for (let i = 0; i < n; i++) {
        const res = await s.app.inject({
          method: 'POST',
          url: '/v1/signals',
          headers: { 'content-type': 'text/plain;charset=UTF-8', ...headers(i) },
          payload: JSON.stringify(batch()),
          remoteAddress,
        });
        codes.push(res.statusCode);
      }
      return codes;
    };
    const networkOf = async (s: VitrineServer, id: string) =>
      (await s.db.query<{ network: string }>('select network from batches where id = $1', [id]))[0]?.network;
    const postVia = async (s: VitrineServer, xff: string | undefined, remoteAddress = PROXY) => {
      const b = batch();
      const res = await s.app.inject({
        method: 'POST',
        url: '/v1/signals',
        headers: { 'content-type': 'text/plain;charset=UTF-8', ...(xff ? { 'x-forwarded-for': xff } : {}) },
        payload: JSON.stringify(b),
        remoteAddress,
      });
      expect(res.statusCode).toBe(202);
      return networkOf(s, b.id);
    };

    for (const [label, trustProxy] of [
      ['a trusted proxy address', [PROXY]],
      ['a trusted CIDR', ['10.0.0.0/8']],
      ['one hop', 1],
    ] as const) {
      it.skipIf(skip)(`behind ${label}, each client has its own rate-limit bucket and network`, async () => {
        const s = await start({
          trustProxy: typeof trustProxy === 'number' ? trustProxy : [...trustProxy],
          rateLimit: { max: 5, windowMs: 60_000 },
        });
        const flooder = await flood(s, 8, () => ({ 'x-forwarded-for': '198.51.100.1' }));
        expect(flooder.slice(0, 5)).toEqual([202, 202, 202, 202, 202]);
        expect(flooder.slice(5)).toEqual([429, 429, 429]);
        // Another shopper behind the same proxy is not throttled by the flooder.
        expect(await flood(s, 3, () => ({ 'x-forwarded-for': '203.0.113.9' }))).toEqual([202, 202, 202]);
        // The network key comes from the same resolved address: /24s differ, one /24 shares.
        const [a, a2, b] = [await postVia(s, '192.0.2.10'), await postVia(s, '192.0.2.99'), await postVia(s, '192.0.3.10')];
        expect(a).toBe(a2);
        expect(a).not.toBe(b);
        // A client cannot prepend a forged hop: the proxy's own entry (the last one) is the client.
        expect(await postVia(s, '192.0.3.10, 192.0.2.10')).toBe(a);
      });
    }

    it.skipIf(skip)('without trust (the default), X-Forwarded-For is ignored: a client cannot pick its bucket or network', async () => {
      const s = await start({ rateLimit: { max: 5, windowMs: 60_000 } });
      const codes = await flood(s, 8, (i) => ({ 'x-forwarded-for': `198.51.${i}.1` }), '203.0.113.50');
      expect(codes.slice(5)).toEqual([429, 429, 429]);
      const s2 = s;
      const plain = await postVia(s2, undefined, '192.0.2.1');
      expect(await postVia(s2, '198.51.100.1', '192.0.2.1')).toBe(plain);
    });

    it.skipIf(skip)('a peer outside the trusted list cannot set its address either', async () => {
      const s = await start({ trustProxy: [PROXY], rateLimit: { max: 5, windowMs: 60_000 } });
      const codes = await flood(s, 8, (i) => ({ 'x-forwarded-for': `198.51.${i}.1` }), '192.0.2.200');
      expect(codes.slice(5)).toEqual([429, 429, 429]);
      expect(await postVia(s, '198.51.100.1', '192.0.2.201')).toBe(await postVia(s, undefined, '192.0.2.201'));
    });
  });

  describe('Retry-After through CORS', () => {
    it.skipIf(skip)('429 answers carry Retry-After and expose it to cross-origin scripts (signals and stats)', async () => {
      const s = await start({ rateLimit: { max: 2, windowMs: 60_000 }, stats: { cacheMs: 0, rateLimit: { max: 2, windowMs: 60_000 } } });
      const post = () =>
        s.app.inject({
          method: 'POST',
          url: '/v1/signals',
          headers: { 'content-type': 'text/plain;charset=UTF-8', origin: ORIGIN },
          payload: JSON.stringify(batch()),
        });
      const get = () => s.app.inject({ url: '/v1/stats', headers: { origin: ORIGIN } });
      for (const send of [post, get]) {
        await send();
        await send();
        const limited = await send();
        expect(limited.statusCode).toBe(429);
        expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
        expect(limited.headers['access-control-allow-origin']).toBe('*');
        expect(String(limited.headers['access-control-expose-headers']).toLowerCase().split(/,\s*/)).toContain('retry-after');
      }
    });
  });

  describe('/v1/stats', () => {
    /** Counts the stats computations: each one reads the batch totals once. */
    const counting = () => {
      const counter = { totals: 0 };
      const wrap = (db: Db): Db => ({
        kind: db.kind,
        transaction: db.transaction.bind(db),
        close: db.close.bind(db),
        query(sql: string, params?: unknown[]) {
          if (/from batches/i.test(sql) && /sum\(|count\(/i.test(sql)) counter.totals += 1;
          return db.query(sql, params);
        },
      });
      return { counter, wrap };
    };

    it.skipIf(skip)('many concurrent callers share one computation per TTL; a round is shown at once', async () => {
      const { counter, wrap } = counting();
      const s = await start({ adminToken: TOKEN, stats: { cacheMs: 300, rateLimit: { max: 10_000, windowMs: 60_000 } } }, wrap);
      await readyForRound(s);
      counter.totals = 0;
      const burst = () =>
        Promise.all(Array.from({ length: 100 }, (_, i) => s.app.inject({ url: '/v1/stats', remoteAddress: `10.0.${i}.1` })));
      const first = await burst();
      expect(first.every((r) => r.statusCode === 200)).toBe(true);
      expect(first[0].json().signals.batches).toBe(6);
      expect(counter.totals).toBe(1);
      await burst(); // within the TTL: from the cache
      expect(counter.totals).toBe(1);
      // A new batch is not visible until the TTL passes…
      expect((await postFrom(s, batch())).statusCode).toBe(202);
      expect((await s.app.inject({ url: '/v1/stats' })).json().signals.batches).toBe(6);
      await new Promise((r) => setTimeout(r, 350));
      const later = await burst();
      expect(later[0].json().signals.batches).toBe(7);
      expect(counter.totals).toBe(2);
      // …but a round invalidates the cache, so the report shows it right away.
      await s.app.inject({ method: 'POST', url: '/v1/admin/rounds', headers: { authorization: `Bearer ${TOKEN}` } });
      expect((await s.app.inject({ url: '/v1/stats' })).json().rounds).toHaveLength(1);
      expect(counter.totals).toBe(3);
    });

    it.skipIf(skip)('each client address is rate-limited', async () => {
      const s = await start({ stats: { cacheMs: 2000, rateLimit: { max: 3, windowMs: 60_000 } } });
      const codes = [];
      for (let i = 0; i < 5; i++) codes.push((await s.app.inject({ url: '/v1/stats', remoteAddress: '192.0.2.1' })).statusCode);
      expect(codes).toEqual([200, 200, 200, 429, 429]);
      expect((await s.app.inject({ url: '/v1/stats', remoteAddress: '192.0.2.2' })).statusCode).toBe(200);
    });
  });

  describe('bad paths', () => {
    const BAD = [
      '/v1/models/%00/x',
      '/v1/models/a%00b/manifest.json',
      `/v1/models/${SEED_VERSION}/a%00b`,
      `/v1/models/${SEED_VERSION}/manifest.json%00`,
      `/v1/models/${SEED_VERSION}/%0d%0aSet-Cookie:%20x=1`,
      '/v1/models/a%0d%0ab/weights.bin',
      '/v1/models/%7f/x',
      '/v1/models/..%2f..%2fetc/passwd',
      '/v1/models/%zz/x',
      '/v1/models/%E0%A4%A/x',
      '/v1/models/%/x',
      `/v1/models/${'a'.repeat(5000)}/manifest.json`,
      `/v1/models/${SEED_VERSION}/${'%00'.repeat(2000)}`,
      '/v1/%00',
      '/v1/signals%00',
      `/${'x'.repeat(8000)}`,
    ];

    it.skipIf(skip)('answer 400/404/414 with a generic message, quote nothing, and log nothing', async () => {
      const lines: string[] = [];
      const s = await start({ logger: true, logStream: { write: (line: string) => void lines.push(line) } });
      for (const url of BAD) {
        for (const method of ['GET', 'POST', 'OPTIONS'] as const) {
          const res = await s.app.inject({ method, url, headers: { origin: ORIGIN, 'access-control-request-method': 'GET' } });
          // (An OPTIONS preflight on a public path is CORS' generic 204, which says nothing either.)
          expect(method === 'OPTIONS' ? [204, 400, 404, 414] : [400, 404, 414], `${method} ${url.slice(0, 80)}`).toContain(res.statusCode);
          const body = res.body.toLowerCase();
          for (const leak of [
            'etag',
            'header',
            'invalid character',
            'route ',
            'stack',
            '%00',
            '\u0000',
            'aaaaaaaaaa',
            'set-cookie',
            'at ',
          ]) {
            expect(body, `${method} ${url.slice(0, 80)}`).not.toContain(leak);
          }
        }
      }
      expect(lines).toEqual([]);
    });

    it.skipIf(skip)('a raw NUL or control character on the wire gets a 400 and no log line', async () => {
      const lines: string[] = [];
      const s = await start({ logger: true, logStream: { write: (line: string) => void lines.push(line) } });
      await s.app.listen({ port: 0, host: '127.0.0.1' });
      const { port } = s.app.server.address() as { port: number };
      const raw = (path: string) =>
        new Promise<string>((resolve, reject) => {
          const socket = connect(port, '127.0.0.1', () => socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
          let data = '';
          socket.on('data', (c) => (data += c.toString('latin1')));
          socket.on('end', () => resolve(data));
          socket.on('error', reject);
        });
      for (const path of ['/v1/models/a\u0000b/x', `/v1/models/${SEED_VERSION}/a\u0001b`, '/v1/models/a\u007fb/x']) {
        const answer = await raw(path);
        expect(answer).toMatch(/^HTTP\/1\.1 4\d\d /);
        expect(answer.toLowerCase()).not.toContain('etag');
      }
      expect(lines).toEqual([]);
    });
  });
});

describe('parseTrustProxy (VITRINE_TRUST_PROXY)', () => {
  it('is off by default; takes hop counts, address/CIDR lists, proxy-addr names and legacy true', () => {
    for (const off of [undefined, '', '0', 'false', ' ']) expect(parseTrustProxy(off)).toBe(false);
    expect(parseTrustProxy('true')).toBe(true);
    expect(parseTrustProxy('1')).toBe(1);
    expect(parseTrustProxy('2')).toBe(2);
    expect(parseTrustProxy('127.0.0.1, 10.0.0.0/8,::1,fd00::/8')).toEqual(['127.0.0.1', '10.0.0.0/8', '::1', 'fd00::/8']);
    expect(parseTrustProxy('loopback,uniquelocal')).toEqual(['loopback', 'uniquelocal']);
    for (const bad of ['yes', '10.0.0.0/33', '10.0.0/8', 'example.com', '1.2.3.4,,5.6.7.8', '::1/129', '-1']) {
      expect(() => parseTrustProxy(bad), bad).toThrow(/VITRINE_TRUST_PROXY/);
    }
  });
});

describe('bearerMatches', () => {
  it('accepts exactly "Bearer <token>"', () => {
    expect(bearerMatches(`Bearer ${TOKEN}`, TOKEN)).toBe(true);
    for (const h of [
      undefined,
      '',
      `Bearer  ${TOKEN}`,
      `Bearer ${TOKEN} `,
      `Bearer ${TOKEN}\n`,
      `Bearer ${TOKEN.toUpperCase()}`,
      'Bearer ',
    ]) {
      expect(bearerMatches(h, TOKEN), JSON.stringify(h)).toBe(false);
    }
  });
});
