/**
 * Signed model delivery on the server, against PGlite and PostgreSQL: every publish (seed, shadow,
 * promotion, rollback, a new key) is signed under a higher sequence; the signature survives the
 * path rewriting of /v1/models/current; a rollback needs the admin token and a signing key.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkVersionLabel,
  generateSigningKeyPair,
  importPublicKey,
  parseManifest,
  verifyManifestSignature,
  type PinnedKey,
} from '@vitrine/core/artifact';
import { createServer, type VitrineServer } from '../src/http/server';
import { ModelRegistry } from '../src/registry/registry';
import { openDb, type DbOptions } from '../src/store/db';
import { UNSIGNED_REFUSED, ensureDevSigningKey, signingFromEnv } from '../src/registry/signing';
import {
  SEED_VERSION,
  SEED_PRIOR,
  deviceUpdate,
  honestAddress,
  postFrom,
  postgresReachable,
  signalBatch as batch,
  signalEvent as event,
  TEST_PG_URL,
  testConfig,
} from './helpers';

const subtle = globalThis.crypto.subtle;
const D = SEED_PRIOR.dimension;
const ADMIN = 'test-admin-token-0123456789';
const pgAvailable = await postgresReachable();

/** A schema of this file's own in the test database (files run in parallel). */
async function freshSchema(): Promise<string> {
  const c = new pg.Client({ connectionString: TEST_PG_URL });
  await c.connect();
  await c.query('drop schema if exists model_signing cascade; create schema model_signing;');
  await c.end();
  const url = new URL(TEST_PG_URL);
  url.searchParams.set('options', '-c search_path=model_signing');
  return url.toString();
}

const stores: [string, () => Promise<DbOptions>][] = [
  ['embedded PGlite', async () => ({ dataDir: mkdtempSync(join(tmpdir(), 'vitrine-signing-')) })],
  ['PostgreSQL', async () => ({ databaseUrl: await freshSchema() })],
];

async function keyPair() {
  const { privateKeyPem, publicKeySpki } = await generateSigningKeyPair(subtle);
  return { privateKeyPem, pinned: await importPublicKey(subtle, publicKeySpki) };
}

/** The current manifest as a client gets it, checked the way the SDK checks it. */
async function current(server: VitrineServer, pinned: PinnedKey) {
  const res = await server.app.inject({ url: '/v1/models/current' });
  const raw = res.json();
  const manifest = parseManifest(raw);
  return {
    res,
    manifest,
    check: await verifyManifestSignature(subtle, raw, pinned),
    label: await checkVersionLabel(subtle, manifest),
  };
}

describe.each(stores)('signed publications on %s', (name, options) => {
  const skip = name === 'PostgreSQL' && !pgAvailable;
  let server: VitrineServer;
  let dbOptions: DbOptions;
  let key: Awaited<ReturnType<typeof keyPair>>;
  const start = async (privateKey: string | undefined, required = true) =>
    createServer(testConfig({ adminToken: ADMIN, signing: { privateKey, source: 'test', required } }), await openDb(dbOptions));

  beforeAll(async () => {
    if (skip) return;
    dbOptions = await options();
    key = await keyPair();
    server = await start(key.privateKeyPem);
  });
  afterAll(async () => {
    await server?.close();
  });

  it.skipIf(skip)('signs the seed at bootstrap (sequence 1) and the signature survives the path rewriting', async () => {
    const { res, manifest, check, label } = await current(server, key.pinned);
    expect(check).toEqual({ ok: true, keyId: key.pinned.keyId });
    expect(label).toBeUndefined();
    expect(manifest).toMatchObject({ version: SEED_VERSION, sequence: 1, role: 'current' });
    expect(manifest.files[0].path).toBe(`${SEED_VERSION}/weights.bin`);
    expect(res.headers.etag).toBe(`"${SEED_VERSION}.1"`);
    const notModified = await server.app.inject({ url: '/v1/models/current', headers: { 'if-none-match': `"${SEED_VERSION}.1"` } });
    expect(notModified.statusCode).toBe(304);
    // The per-version URL serves the same signed publication with paths relative to its folder.
    const own = (await server.app.inject({ url: `/v1/models/${SEED_VERSION}/manifest.json` })).json();
    expect(own.files[0].path).toBe('weights.bin');
    expect(await verifyManifestSignature(subtle, own, key.pinned)).toMatchObject({ ok: true });
  });

  it.skipIf(skip)('signs each shadow and each promotion under a higher sequence', async () => {
    for (let i = 0; i < 6; i++) {
      const update = deviceUpdate((j) => (j === D - 1 ? 3 : Math.sin(i + j)));
      expect(
        (await postFrom(server, batch({ events: [event({ a: i % 2 ? 'bar-1d' : 'bar-2h' })], update }), honestAddress(i))).statusCode,
      ).toBe(202);
    }
    const round = await server.aggregate();
    expect(round.status).toBe('published-shadow');
    const shadowVersion = round.candidate!;
    const shadowRaw = (await server.app.inject({ url: `/v1/models/${shadowVersion}/manifest.json` })).json();
    expect(shadowRaw.sequence).toBe(2);
    // The role is signed: this publication cannot pass for the current model (a pinned SDK requires 'current' there).
    expect(shadowRaw.role).toBe('shadow');
    expect(await verifyManifestSignature(subtle, shadowRaw, key.pinned)).toMatchObject({ ok: true });
    expect(await checkVersionLabel(subtle, parseManifest(shadowRaw))).toBeUndefined();
    expect(shadowRaw.signature).toBeDefined();
    for (let i = 0; i < 20; i++) {
      const events = Array.from({ length: 5 }, (_, k) => event({ s: k % 3, p: 0.9, q: 0.9, r: (i + k) % 2 }));
      expect((await postFrom(server, batch({ shadow: shadowVersion, events }), honestAddress(i))).statusCode).toBe(202);
    }
    expect((await server.aggregate()).promotion).toMatchObject({ decision: 'promoted', shadow: shadowVersion });
    const { res, manifest, check } = await current(server, key.pinned);
    expect(check.ok).toBe(true);
    expect(manifest).toMatchObject({ version: shadowVersion, sequence: 3, role: 'current' });
    expect(manifest.rollbackOf).toBeUndefined();
    expect(res.headers.etag).toBe(`"${shadowVersion}.3"`);
  });

  it.skipIf(skip)('rolls back only through the admin route with the token, as a signed publication with rollbackOf', async () => {
    const bad = server.registry.getCurrent()!.version;
    const rollback = (body: unknown, authorization?: string) =>
      server.app.inject({
        method: 'POST',
        url: '/v1/admin/models/rollback',
        payload: body as object,
        headers: authorization ? { authorization } : {},
      });
    expect((await rollback({ version: SEED_VERSION })).statusCode).toBe(401);
    expect((await rollback({ version: SEED_VERSION }, 'Bearer wrong-token-0123456789')).statusCode).toBe(401);
    expect((await rollback({ version: 'x/../y' }, `Bearer ${ADMIN}`)).json()).toMatchObject({ field: 'version' });
    expect((await rollback({ version: 'coupons-000000000000' }, `Bearer ${ADMIN}`)).statusCode).toBe(404);
    expect((await rollback({ version: bad }, `Bearer ${ADMIN}`)).statusCode).toBe(409);
    // The rollback is neither readable nor triggerable cross-origin.
    const preflight = await server.app.inject({
      method: 'OPTIONS',
      url: '/v1/admin/models/rollback',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    expect(preflight.headers['access-control-allow-origin']).toBeUndefined();

    const ok = await rollback({ version: SEED_VERSION }, `Bearer ${ADMIN}`);
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toEqual({ version: SEED_VERSION, sequence: 4, rollbackOf: bad });
    const { res, manifest, check, label } = await current(server, key.pinned);
    expect(check.ok).toBe(true);
    expect(label).toBeUndefined();
    expect(manifest).toMatchObject({ version: SEED_VERSION, sequence: 4, rollbackOf: bad, role: 'current' });
    // Same version as at sequence 1, another ETag: a client holding the old body must not get a 304.
    expect(res.headers.etag).toBe(`"${SEED_VERSION}.4"`);
    expect((await server.app.inject({ url: '/v1/models/current', headers: { 'if-none-match': `"${SEED_VERSION}.1"` } })).statusCode).toBe(
      200,
    );
    expect(server.registry.getShadow()).toBeNull();
    // The withdrawn version is retired: it can be rolled back to in turn, but a rejected shadow never.
    const listing = await server.app.inject({ url: '/v1/admin/models', headers: { authorization: `Bearer ${ADMIN}` } });
    expect(listing.json()).toMatchObject({
      signingKey: { keyId: key.pinned.keyId },
      current: SEED_VERSION,
      publications: [
        { sequence: 4, version: SEED_VERSION, role: 'current', rollbackOf: bad },
        { sequence: 3 },
        { sequence: 2 },
        { sequence: 1 },
      ],
    });
    expect((await server.app.inject({ url: '/v1/admin/models' })).statusCode).toBe(401);
  });

  it.skipIf(skip)('keeps publications across restarts and re-signs the live models under a new key with a higher sequence', async () => {
    await server.close();
    server = await start(key.privateKeyPem);
    expect((await current(server, key.pinned)).manifest.sequence).toBe(4);
    await server.close();
    const rotated = await keyPair();
    server = await start(rotated.privateKeyPem);
    const after = await current(server, rotated.pinned);
    expect(after.check).toEqual({ ok: true, keyId: rotated.pinned.keyId });
    expect(after.manifest).toMatchObject({ version: SEED_VERSION, sequence: 5 });
    expect((await current(server, key.pinned)).check).toMatchObject({ ok: false, reason: 'wrong_key' });
    key = rotated;
  });

  /** A second server on the same store (what two replicas on one PostgreSQL are): its own cache. */
  const otherServer = async () => {
    const other = new ModelRegistry(server.db, { privateKey: key.privateKeyPem, source: 'test', required: true });
    await other.bootstrap(server.config.seedModel);
    return other;
  };

  it.skipIf(skip)('rolls back from the store, in the write transaction: a change another server made since is seen', async () => {
    const bad = (await server.registry.history()).find((m) => m.status === 'retired')!.version;
    expect(server.registry.getCurrent()!.version).toBe(SEED_VERSION);
    const other = await otherServer();
    const there = await other.rollback(bad);
    expect(there).toMatchObject({ version: bad, rollbackOf: SEED_VERSION });
    // This server's cache still says the seed is current; the store says it is retired and `bad` is current.
    expect(server.registry.getCurrent()!.version).toBe(SEED_VERSION);
    const back = await server.registry.rollback(SEED_VERSION);
    expect(back).toEqual({ version: SEED_VERSION, sequence: there.sequence + 1, rollbackOf: bad });
    const { manifest, check } = await current(server, key.pinned);
    expect(check.ok).toBe(true);
    expect(manifest).toMatchObject({ version: SEED_VERSION, sequence: there.sequence + 1, rollbackOf: bad, role: 'current' });
    // And the checks run on what the store says: `bad` is retired again, the seed current.
    await expect(other.rollback(SEED_VERSION)).rejects.toThrow(/already current/);
  });

  it.skipIf(skip)('a promotion that a rollback overtook is refused: the shadow it rejected never becomes current', async () => {
    for (let i = 0; i < 6; i++) {
      const update = deviceUpdate((j) => (j === D - 1 ? 2 : Math.cos(i + 10 * j)));
      expect((await postFrom(server, batch({ events: [event()], update }), honestAddress(i + 40))).statusCode).toBe(202);
    }
    const round = await server.aggregate();
    expect(round.status).toBe('published-shadow');
    const shadow = server.registry.getShadow()!;
    expect(shadow.version).toBe(round.candidate);
    // Another server rolls back (rejecting the shadow) while this one decides to promote it.
    const bad = (await server.registry.history()).find((m) => m.status === 'retired')!.version;
    const other = await otherServer();
    await other.rollback(bad);
    await expect(server.registry.promote(shadow)).rejects.toThrow(/no longer the shadow/);
    await server.registry.refresh();
    expect(server.registry.getCurrent()!.version).toBe(bad);
    expect(server.registry.getShadow()).toBeNull();
    expect((await current(server, key.pinned)).manifest).toMatchObject({ version: bad, rollbackOf: SEED_VERSION, role: 'current' });
  });

  it.skipIf(skip)('re-signs at start a live publication signed before manifests named their role', async () => {
    const before = (await current(server, key.pinned)).manifest;
    // A store from before roles: the newest publication's signed JSON has none.
    const [row] = await server.db.query<{ sequence: number; manifest: string }>(
      'select sequence, manifest from model_publications order by sequence desc limit 1',
    );
    const { role: _r, ...old } = JSON.parse(row.manifest);
    await server.db.query('update model_publications set manifest = $1 where sequence = $2', [JSON.stringify(old), row.sequence]);
    await server.close();
    server = await start(key.privateKeyPem);
    const after = await current(server, key.pinned);
    expect(after.check.ok).toBe(true);
    expect(after.manifest).toMatchObject({ version: before.version, sequence: Number(row.sequence) + 1, role: 'current' });
  });
});

describe('signing configuration', () => {
  it('refuses to start without a key when one is required, and with an unusable key', async () => {
    await expect(createServer(testConfig({ signing: { required: true } }), await openDb({}))).rejects.toThrow(UNSIGNED_REFUSED);
    await expect(
      createServer(testConfig({ signing: { privateKey: 'nope', source: 'X', required: true } }), await openDb({})),
    ).rejects.toThrow(/signing key from X is not usable/);
    const p384 = (await subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-384' }, true, ['sign'])) as CryptoKeyPair;
    const jwk = JSON.stringify(await subtle.exportKey('jwk', p384.privateKey));
    await expect(createServer(testConfig({ signing: { privateKey: jwk, required: true } }), await openDb({}))).rejects.toThrow(/P-256/);
  });

  it('serves unsigned manifests, today’s format, when allowed without a key; no rollback then', async () => {
    const server = await createServer(testConfig({ adminToken: ADMIN }), await openDb({}));
    const res = await server.app.inject({ url: '/v1/models/current' });
    expect(res.json().signature).toBeUndefined();
    expect(res.json().sequence).toBeUndefined();
    expect(res.headers.etag).toBe(`"${SEED_VERSION}"`);
    const rollback = await server.app.inject({
      method: 'POST',
      url: '/v1/admin/models/rollback',
      payload: { version: SEED_VERSION },
      headers: { authorization: `Bearer ${ADMIN}` },
    });
    expect(rollback.statusCode).toBe(409);
    expect(rollback.json().error).toMatch(/no signing key/);
    await server.close();
  });

  it('reads the key from the environment, a file or the dev key in the data directory; VITRINE_UNSIGNED_MODELS=1 opts out', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vitrine-devkey-'));
    expect(signingFromEnv({ VITRINE_DATA_DIR: dir })).toEqual({ required: true });
    expect(signingFromEnv({ VITRINE_DATA_DIR: dir, VITRINE_UNSIGNED_MODELS: '1' })).toEqual({ required: false });
    const dev = await ensureDevSigningKey(dir);
    expect((await ensureDevSigningKey(dir)).publicKeySpki).toBe(dev.publicKeySpki); // kept: survives restarts
    const fromDir = signingFromEnv({ VITRINE_DATA_DIR: dir });
    expect(fromDir).toMatchObject({ source: dev.path, required: true });
    expect(fromDir.privateKey).toMatch(/BEGIN PRIVATE KEY/);
    // With DATABASE_URL the data directory is not consulted.
    expect(signingFromEnv({ VITRINE_DATA_DIR: dir, DATABASE_URL: 'postgres://x' }).privateKey).toBeUndefined();
    expect(signingFromEnv({ VITRINE_SIGNING_KEY_FILE: dev.path }).source).toBe(dev.path);
    expect(signingFromEnv({ VITRINE_SIGNING_KEY: '{"kty":"EC"}' })).toMatchObject({ source: 'VITRINE_SIGNING_KEY' });
    expect(() => signingFromEnv({ VITRINE_SIGNING_KEY_FILE: join(dir, 'missing.pem') })).toThrow(/cannot read/);
  });
});
