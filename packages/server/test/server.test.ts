import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { createServer, type VitrineServer } from '../src/http/server';
import { configFromEnv } from '../src/config';
import { openDb, type DbOptions } from '../src/store/db';
import { parseManifest } from '@vitrine/core/artifact';
import {
  SEED_PRIOR,
  SEED_VERSION,
  deviceUpdate,
  honestAddress,
  postFrom,
  postgresReachable,
  resetPostgres,
  signalBatch as batch,
  signalEvent as event,
  TEST_PG_URL,
  testConfig,
} from './helpers';

const post = (s: VitrineServer, body: unknown, type = 'text/plain;charset=UTF-8') => postFrom(s, body, '127.0.0.1', type);
const D = SEED_PRIOR.dimension;

const pgAvailable = await postgresReachable();
const stores: [string, () => Promise<DbOptions>][] = [
  ['embedded PGlite', async () => ({ dataDir: mkdtempSync(join(tmpdir(), 'vitrine-pglite-')) })],
  [
    'PostgreSQL',
    async () => {
      await resetPostgres();
      return { databaseUrl: TEST_PG_URL };
    },
  ],
];

describe.each(stores)('server on %s', (name, options) => {
  const skip = name === 'PostgreSQL' && !pgAvailable;
  if (skip) {
    console.warn(
      `PostgreSQL tests skipped: nothing answers at ${TEST_PG_URL} (.ci/run installs and starts one; or set VITRINE_TEST_DATABASE_URL)`,
    );
  }
  let server: VitrineServer;
  let dbOptions: DbOptions;
  beforeAll(async () => {
    if (skip) return;
    dbOptions = await options();
    server = await createServer(testConfig(), await openDb(dbOptions));
  });
  afterAll(async () => {
    await server?.close();
  });

  it.skipIf(skip)('serves the current model with an ETag and its files as immutable, verifiable bytes', async () => {
    const res = await server.app.inject({ url: '/v1/models/current' });
    expect(res.statusCode).toBe(200);
    expect(res.headers.etag).toBe(`"${SEED_VERSION}"`);
    const manifest = parseManifest(res.json());
    expect(manifest.version).toBe(SEED_VERSION);
    const notModified = await server.app.inject({ url: '/v1/models/current', headers: { 'if-none-match': `"${SEED_VERSION}"` } });
    expect(notModified.statusCode).toBe(304);
    // The file path resolves against /v1/models/current to /v1/models/<version>/weights.bin.
    const fileUrl = new URL(manifest.files[0].path, 'http://x/v1/models/current').pathname;
    const bin = await server.app.inject({ url: fileUrl });
    expect(bin.statusCode).toBe(200);
    expect(bin.headers['cache-control']).toContain('immutable');
    expect(createHash('sha256').update(bin.rawPayload).digest('hex')).toBe(manifest.files[0].sha256);
    expect((await server.app.inject({ url: '/v1/models/nope-123/weights.bin' })).statusCode).toBe(404);
  });

  it.skipIf(skip)('accepts text/plain and JSON signals with 202; a batch sent twice counts once', async () => {
    const b = batch({ events: [event(), event({ a: 'coffee-house-2h', s: 1, r: 0 })] });
    const first = await post(server, b);
    expect(first.statusCode).toBe(202);
    expect(first.json()).toMatchObject({ batch: b.id, events: 2, duplicate: false });
    const again = await post(server, b, 'application/json');
    expect(again.statusCode).toBe(202);
    expect(again.json()).toMatchObject({ duplicate: true });
    const stats = (await server.app.inject({ url: '/v1/stats' })).json();
    expect(stats.signals).toMatchObject({ batches: 1, events: 2, duplicatesDropped: 1 });
    expect(stats.models.current).toBe(SEED_VERSION);
    expect(stats.storage).toBe(name === 'PostgreSQL' ? 'postgres' : 'pglite');
  });

  it.skipIf(skip)('answers 400 naming the bad field, and 413 above the body limit', async () => {
    const cases: [unknown, string][] = [
      [batch({ events: [event({ r: 2 })] }), 'events.0.r'],
      [batch({ events: [event({ a: 'not-in-catalog' })] }), 'events.0.a'],
      [batch({ userId: 'u-123' }), 'userId'],
      [batch({ events: [event({ sessionId: 'abc' })] }), 'events.0.sessionId'],
      [batch({ events: [event({ t: 1 })] }), 'events.0.t'],
      [batch({ id: 'short' }), 'id'],
      [batch({ model: 'unknown-model' }), 'model'],
      [batch({ update: { g: [0.1, 0.2], h: [0, 0], n: 1 } }), 'update.g'],
      [batch({ update: { g: [0.1, 0.2], h: [0, 0, 0], n: 1 } }), 'update.h'],
      [batch({ update: { ...deviceUpdate(() => 1), g: Array(D).fill(1e301) } }), 'update.g'],
      [batch({ update: { ...deviceUpdate(() => 1), h: Array(D).fill(-0.1) } }), 'update.h'],
      [batch({ events: [event({ t: 24 * 365 * 1000 })] }), 'events.0.t'],
    ];
    for (const [body, field] of cases) {
      const res = await post(server, body);
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      expect(res.json().field).toBe(field);
      expect(res.json().error).toContain(field);
    }
    const notJson = await post(server, '{"format":');
    expect(notJson.statusCode).toBe(400);
    expect((await server.app.inject({ url: '/v1/stats' })).json().signals.rejected).toBe(cases.length);
    const huge = await post(server, batch({ pad: 'x'.repeat(70_000) }));
    expect(huge.statusCode).toBe(413);
    expect(huge.json().error).toContain('body');
  });

  it.skipIf(skip)('acknowledged means stored: a new server on the same store sees the batch', async () => {
    const b = batch();
    expect((await post(server, b)).statusCode).toBe(202);
    await server.close();
    server = await createServer(testConfig(), await openDb(dbOptions));
    const again = await post(server, b);
    expect(again.json()).toMatchObject({ duplicate: true });
  });

  it.skipIf(skip)('aggregates a DP round into a shadow model, then promotes it on off-policy evidence', async () => {
    const privacy = (await server.app.inject({ url: '/v1/privacy' })).json();
    expect(privacy.update).toMatchObject({ model: SEED_VERSION, method: 'residual-logistic-head@1', dimension: D });
    expect(privacy.update.clipGradient).toBeCloseTo(SEED_PRIOR.clipGradient, 10);
    expect(privacy.shadowModel).toBeNull();
    // The shipped curve: no contributors yet, so nothing is promised.
    expect(privacy.expectations).toMatchObject({ contributorsPerWindow: 0, shareOfCentralGain: 0 });
    // Too few networks: the round waits.
    const waiting = await server.aggregate();
    expect(waiting.status).toBe('waiting');
    for (let i = 0; i < 6; i++) {
      const update = deviceUpdate((j) => (j === D - 1 ? 3 : Math.sin(i + j)));
      const res = await postFrom(server, batch({ events: [event({ a: i % 2 ? 'bar-1d' : 'bar-2h' })], update }), honestAddress(i));
      expect(res.statusCode).toBe(202);
    }
    const round = await server.aggregate();
    expect(round).toMatchObject({ status: 'published-shadow', cohort: 6, updates: 6, contributionsPerDevice: 1, clippedByServer: 0 });
    expect(round.sigmaGradient).toBeCloseTo(privacy.update.noiseMultiplierGradient * privacy.update.clipGradient, 10);
    // k-threshold 2: both activities have 3 batches each.
    expect(round.activities.map((a) => a.id)).toEqual(['bar-1d', 'bar-2h']);
    const shadowVersion = round.candidate!;
    const after = (await server.app.inject({ url: '/v1/privacy' })).json();
    expect(after.shadowModel).toBe(`models/${shadowVersion}/manifest.json`);
    const shadow = parseManifest((await server.app.inject({ url: `/v1/models/${shadowVersion}/manifest.json` })).json());
    expect(shadow.training).toMatchObject({ method: 'dp-newton-residual-head', parent: SEED_VERSION, round: round.round });
    expect(shadow.head).toEqual({ base: SEED_VERSION, frozenUnits: 80 });
    expect(shadow.architecture.layers[0].units).toBe(82);
    const bin = await server.app.inject({ url: `/v1/models/${shadowVersion}/weights.bin` });
    expect(createHash('sha256').update(bin.rawPayload).digest('hex')).toBe(shadow.files[0].sha256);
    // Devices report shadow propensities next to the logged ones; equal values: not worse.
    for (let i = 0; i < 20; i++) {
      const events = Array.from({ length: 5 }, (_, k) => event({ s: k % 3, p: 0.9, q: 0.9, r: (i + k) % 2 }));
      expect((await postFrom(server, batch({ shadow: shadowVersion, events }), honestAddress(i))).statusCode).toBe(202);
    }
    const next = await server.aggregate();
    expect(next.promotion).toMatchObject({ decision: 'promoted', shadow: shadowVersion, events: 100, networks: 20 });
    expect((await server.app.inject({ url: '/v1/models/current' })).headers.etag).toBe(`"${shadowVersion}"`);
    const stats = (await server.app.inject({ url: '/v1/stats' })).json();
    expect(stats.models.current).toBe(shadowVersion);
    expect(stats.rounds.length).toBeGreaterThanOrEqual(1);
    expect(stats.promotions[0].decision).toBe('promoted');
  });

  it.skipIf(skip)('rejects a shadow that is clearly worse', async () => {
    const model = server.registry.getCurrent()!.version;
    for (let i = 0; i < 6; i++) await postFrom(server, batch({ model, update: deviceUpdate((j) => Math.cos(j + i)) }), honestAddress(i));
    const round = await server.aggregate();
    const shadowVersion = round.candidate!;
    for (let i = 0; i < 20; i++) {
      const events = Array.from({ length: 3 }, (_, k) => event({ p: 0.9, q: 0.05, r: 1, s: k % 2 }));
      await postFrom(server, batch({ model, shadow: shadowVersion, events }), honestAddress(i));
    }
    const next = await server.aggregate();
    expect(next.promotion).toMatchObject({ decision: 'rejected', shadow: shadowVersion });
    expect(server.registry.getShadow()).toBeNull();
  });
});

describe('round spacing', () => {
  it('publishes at most one round per 240 h by default (3 per 30-day window): the solve combines about one window', async () => {
    const server = await createServer(testConfig({ privacy: { ...testConfig().privacy, roundSpacingHours: undefined } }), await openDb({}));
    const send = async (offset: number) => {
      for (let i = 0; i < 6; i++)
        await postFrom(server, batch({ update: deviceUpdate((j) => Math.sin(i + j + offset)) }), honestAddress(i + offset));
    };
    await send(0);
    expect((await server.aggregate()).status).toBe('published-shadow');
    await send(10);
    const next = await server.aggregate();
    expect(next).toMatchObject({ status: 'waiting', round: null });
    expect(next.note).toMatch(/240 h apart/);
    await server.close();
  });
});

describe('updates', () => {
  it('refuse an update without the events it was computed from', async () => {
    const server = await createServer(testConfig(), await openDb({}));
    const update = deviceUpdate(() => 1);
    expect((await post(server, batch({ events: [], update }))).json().field).toBe('events');
    expect((await post(server, batch({ update: { ...update, n: 2 } }))).json().field).toBe('update.n');
    await server.close();
  });
});

describe('configuration', () => {
  it('refuses privacy.noise "none" unless the config explicitly allows it; the environment never does', async () => {
    const noNoise = { ...testConfig().privacy, noise: 'none' as const };
    const db = await openDb({});
    await expect(createServer(testConfig({ privacy: noNoise, allowNoiseOff: false }), db)).rejects.toThrow(/allowNoiseOff/);
    await db.close();
    expect(configFromEnv().allowNoiseOff).toBe(false);
    const server = await createServer(testConfig({ privacy: noNoise, allowNoiseOff: true }), await openDb({}));
    expect((await server.app.inject({ url: '/v1/privacy' })).json().update.model).toBe(SEED_VERSION);
    await server.close();
  });
});

describe('flood control', () => {
  it('answers 429 with Retry-After when one client floods', async () => {
    const server = await createServer(testConfig({ rateLimit: { max: 3, windowMs: 60_000 } }), await openDb({}));
    const codes: number[] = [];
    let retryAfter: string | undefined;
    for (let i = 0; i < 5; i++) {
      const res = await post(server, batch());
      codes.push(res.statusCode);
      if (res.statusCode === 429) retryAfter = String(res.headers['retry-after']);
    }
    await server.close();
    expect(codes).toEqual([202, 202, 202, 429, 429]);
    expect(Number(retryAfter)).toBeGreaterThan(0);
  });
});
