/**
 * Signed model delivery in the loader and the client: pinned key, version label bound to the
 * weights, monotonic sequence remembered next to the last good manifest, signed rollback.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import {
  generateSigningKeyPair,
  importPublicKey,
  importSigningKey,
  signManifest,
  signingBytes,
  type ModelManifest,
  type PublicationRole,
  type SigningKey,
} from '@vitrine/core/artifact';
import { loadModel, type LoaderEnv } from '../src/model/loader';
import { loadShadowModel } from '../src/model/model-parts';
import { createVitrine, VitrineError } from '../src/index';
import { InMemoryCacheStorage, fakeFetch } from './helpers';

const subtle = globalThis.crypto.subtle;
const seed: ModelManifest = JSON.parse(readFileSync(new URL('../../../models/coupons/manifest.json', import.meta.url), 'utf8'));
const seedWeights = new Uint8Array(readFileSync(new URL(`../../../models/coupons/${seed.files[0].path}`, import.meta.url)));
const URL_ = 'https://vitrine.test/v1/models/current';

/** The seed, or a copy with one weight byte changed: its own hash, its own content label. */
function variant(flip?: number): { manifest: ModelManifest; bin: Uint8Array; path: string } {
  const bin = seedWeights.slice();
  if (flip !== undefined) bin[flip] ^= 0x01;
  const sha256 = createHash('sha256').update(bin).digest('hex');
  const version = flip === undefined ? seed.version : `coupons-${sha256.slice(0, 12)}`;
  const path = `${version}/weights.bin`;
  return { manifest: { ...seed, version, files: [{ path, bytes: bin.byteLength, sha256 }] }, bin, path };
}

async function keys() {
  const { privateKeyPem, publicKeySpki } = await generateSigningKeyPair(subtle);
  return { signer: await importSigningKey(subtle, privateKeyPem), spki: publicKeySpki };
}

async function served(
  v: ReturnType<typeof variant>,
  signer: SigningKey | null,
  publication: { sequence: number; rollbackOf?: string; role?: PublicationRole },
  url = URL_,
) {
  const manifest = signer
    ? await signManifest(subtle, v.manifest, signer, { role: 'current', ...publication })
    : { ...v.manifest, sequence: publication.sequence };
  return { [url]: JSON.stringify(manifest), [new URL(v.path, url).href]: v.bin };
}

/** The Cache API bucket's raw entries (the in-memory fake), to drop records as eviction would. */
async function bucketOf(caches: InMemoryCacheStorage) {
  return ((await caches.open('vitrine-models-v1')) as unknown as { entries: Map<string, Uint8Array> }).entries;
}

function env(files: Record<string, Uint8Array | string>, caches: InMemoryCacheStorage, spki?: string): LoaderEnv {
  return {
    fetch: fakeFetch(files).fetch,
    caches: caches as unknown as CacheStorage,
    subtle,
    ...(spki ? { modelKey: importPublicKey(subtle, spki) } : {}),
  };
}

describe('loader with a pinned model key', () => {
  it('loads a signed model and reports what was verified', async () => {
    const { signer, spki } = await keys();
    const model = await loadModel(URL_, env(await served(variant(), signer, { sequence: 3 }), new InMemoryCacheStorage(), spki));
    expect(model.manifest.version).toBe(seed.version);
    expect(model.warning).toBeUndefined();
    expect(model.integrity).toMatchObject({
      signature: 'verified',
      keyId: signer.keyId,
      versionLabel: 'matches',
      sequence: 3,
      source: 'network',
    });
    expect(model.integrity!.verifyMs).toBeGreaterThanOrEqual(0);
  });

  it('refuses unsigned, wrong-key and badly signed manifests before fetching any weights', async () => {
    const { signer, spki } = await keys();
    const other = await keys();
    const cases: [string, Record<string, Uint8Array | string>, RegExp][] = [
      ['unsigned', await served(variant(), null, { sequence: 1 }), /not signed/],
      ['wrong key', await served(variant(), other.signer, { sequence: 1 }), /not the pinned key/],
    ];
    const signed = JSON.parse((await served(variant(), signer, { sequence: 1 }))[URL_] as string);
    signed.createdAt = 'edited after signing';
    cases.push(['edited', { [URL_]: JSON.stringify(signed) }, /does not verify/]);
    for (const [name, files, why] of cases) {
      const requests = fakeFetch(files);
      const err = await loadModel(URL_, { ...env(files, new InMemoryCacheStorage(), spki), fetch: requests.fetch }).catch((e) => e);
      expect(err, name).toBeInstanceOf(VitrineError);
      expect(err).toMatchObject({ code: 'model_integrity', field: 'model' });
      expect(err.message, name).toMatch(why);
      expect(
        requests.requests.filter((u) => u.endsWith('.bin')),
        name,
      ).toHaveLength(0);
    }
  });

  it('refuses new weights with matching hashes under the old label, even signed with the right key', async () => {
    const { signer, spki } = await keys();
    const swapped = variant(500);
    // What the issue found accepted: new bytes, new sha256, unchanged version label.
    const relabelled = { ...swapped, manifest: { ...swapped.manifest, version: seed.version } };
    const err = await loadModel(URL_, env(await served(relabelled, signer, { sequence: 2 }), new InMemoryCacheStorage(), spki)).catch(
      (e) => e,
    );
    expect(err).toMatchObject({ code: 'model_integrity' });
    expect(err.message).toMatch(
      new RegExp(`version label ${seed.version} does not match its weights \\(expected ${swapped.manifest.version}\\)`),
    );
  });

  it('falls back to the cached last good model when a wrong-key manifest arrives', async () => {
    const { signer, spki } = await keys();
    const attacker = await keys();
    const caches = new InMemoryCacheStorage();
    await loadModel(URL_, env(await served(variant(), signer, { sequence: 4 }), caches, spki));
    const model = await loadModel(URL_, env(await served(variant(9), attacker.signer, { sequence: 99 }), caches, spki));
    expect(model.manifest.version).toBe(seed.version);
    expect(model.warning).toMatch(/refused \(signed with key [0-9a-f]{16}, not the pinned key/);
    expect(model.integrity).toMatchObject({ signature: 'verified', sequence: 4, source: 'last-good' });
  });

  it('refuses a lower sequence with a warning and uses the cached model; the high-water mark outlives the last-good record', async () => {
    const { signer, spki } = await keys();
    const caches = new InMemoryCacheStorage();
    const newer = variant(1234);
    await loadModel(URL_, env(await served(newer, signer, { sequence: 7 }), caches, spki));
    // A replay of an older, validly signed publication (a retired version served as current).
    const stale = await served(variant(), signer, { sequence: 6 });
    const model = await loadModel(URL_, env(stale, caches, spki));
    expect(model.manifest.version).toBe(newer.manifest.version);
    expect(model.warning).toMatch(/stale manifest: sequence 6 is below 7/);
    expect(model.fromCache).toBe(1);
    // Even with the last-good record gone, sequence 6 stays refused.
    const bucket = (await caches.open('vitrine-models-v1')) as unknown as { entries: Map<string, Uint8Array> };
    for (const key of [...bucket.entries.keys()]) if (key.includes('last-good')) bucket.entries.delete(key);
    const err = await loadModel(URL_, env(stale, caches, spki)).catch((e) => e);
    expect(err).toMatchObject({ code: 'model_integrity' });
    expect(err.message).toMatch(/below 7/);
    // The same sequence again (a reload) is fine.
    expect((await loadModel(URL_, env(await served(newer, signer, { sequence: 7 }), caches, spki))).warning).toBeUndefined();
  });

  it('accepts a signed rollback: the older version under a higher sequence with rollbackOf', async () => {
    const { signer, spki } = await keys();
    const caches = new InMemoryCacheStorage();
    const bad = variant(2000);
    await loadModel(URL_, env(await served(bad, signer, { sequence: 8 }), caches, spki));
    const model = await loadModel(
      URL_,
      env(await served(variant(), signer, { sequence: 9, rollbackOf: bad.manifest.version }), caches, spki),
    );
    expect(model.warning).toBeUndefined();
    expect(model.manifest.version).toBe(seed.version);
    expect(model.integrity).toMatchObject({ signature: 'verified', sequence: 9, rollbackOf: bad.manifest.version });
    // And the withdrawn version cannot come back under its old sequence.
    const back = await loadModel(URL_, env(await served(bad, signer, { sequence: 8 }), caches, spki));
    expect(back.manifest.version).toBe(seed.version);
    expect(back.warning).toMatch(/sequence 8 is below 9/);
  });

  it('re-verifies the cached last-good manifest: an edited record is not used', async () => {
    const { signer, spki } = await keys();
    const caches = new InMemoryCacheStorage();
    await loadModel(URL_, env(await served(variant(), signer, { sequence: 2 }), caches, spki));
    const bucket = (await caches.open('vitrine-models-v1')) as unknown as { entries: Map<string, Uint8Array> };
    const key = [...bucket.entries.keys()].find((k) => k.includes('last-good'))!;
    const record = JSON.parse(new TextDecoder().decode(bucket.entries.get(key)));
    record.createdAt = 'edited in storage';
    bucket.entries.set(key, new TextEncoder().encode(JSON.stringify(record)));
    const err = await loadModel(URL_, env({ [URL_]: 'down' }, caches, spki)).catch((e) => e);
    expect(err).toMatchObject({ code: 'model_unavailable' }); // not the edited cached model
  });

  it('refuses a signed shadow (or rejected candidate) served as the current model, though its sequence is higher', async () => {
    const { signer, spki } = await keys();
    const caches = new InMemoryCacheStorage();
    // What a server publishes: seed current (1), a round's shadow (2), promoted (3), the next round's shadow (4).
    const promoted = variant(300);
    const candidate = variant(600);
    await loadModel(URL_, env(await served(promoted, signer, { sequence: 3 }), caches, spki));
    // The model host serves the next shadow (or a candidate the gate later rejected) at /v1/models/current.
    const asCurrent = await served(candidate, signer, { sequence: 4, role: 'shadow' });
    const model = await loadModel(URL_, env(asCurrent, caches, spki));
    expect(model.manifest.version).toBe(promoted.manifest.version);
    expect(model.warning).toMatch(new RegExp(`${candidate.manifest.version} was published as the shadow model, not the current one`));
    expect(model.integrity).toMatchObject({ role: 'current', sequence: 3, source: 'last-good' });
    // With nothing cached it is refused outright, before any weight is fetched.
    const requests = fakeFetch(asCurrent);
    const err = await loadModel(URL_, { ...env(asCurrent, new InMemoryCacheStorage(), spki), fetch: requests.fetch }).catch((e) => e);
    expect(err).toMatchObject({ code: 'model_integrity', message: expect.stringMatching(/published as the shadow model/) });
    expect(requests.requests.filter((u) => u.endsWith('.bin'))).toEqual([]);
    // A manifest signed before roles were signed names none: refused too (old shadow publications stay unusable).
    const unroled = { ...candidate.manifest, sequence: 5 };
    const value = await subtle.sign(
      { name: 'ECDSA', hash: 'SHA-256' },
      signer.privateKey,
      signingBytes(unroled) as Uint8Array<ArrayBuffer>,
    );
    const oldFormat = { ...unroled, signature: { alg: 'ES256', keyId: signer.keyId, value: Buffer.from(value).toString('base64url') } };
    const err2 = await loadModel(URL_, env({ [URL_]: JSON.stringify(oldFormat) }, new InMemoryCacheStorage(), spki)).catch((e) => e);
    expect(err2).toMatchObject({ code: 'model_integrity', message: 'a signed manifest must name its role (expected current)' });
    // A previously current manifest re-served later is still refused by the sequence check.
    const stale = await loadModel(URL_, env(await served(variant(), signer, { sequence: 1 }), caches, spki));
    expect(stale.manifest.version).toBe(promoted.manifest.version);
    expect(stale.warning).toMatch(/stale manifest: sequence 1 is below 3/);
  });

  it('loads the shadow only as a shadow publication (the signals stage), and the page model only as current', async () => {
    const { signer, spki } = await keys();
    const shadowUrl = 'https://vitrine.test/v1/models/coupons-x/manifest.json';
    const shadow = variant(700);
    const opts = { model: URL_, modelKey: spki };
    const asShadow = await served(shadow, signer, { sequence: 6, role: 'shadow' }, shadowUrl);
    vi.stubGlobal('fetch', fakeFetch(asShadow).fetch);
    const loaded = await loadShadowModel(shadowUrl, opts);
    expect(loaded.integrity).toMatchObject({ signature: 'verified', role: 'shadow', sequence: 6 });
    // A current publication is not a shadow either.
    vi.stubGlobal('fetch', fakeFetch(await served(shadow, signer, { sequence: 7, role: 'current' }, shadowUrl)).fetch);
    await expect(loadShadowModel(shadowUrl, { ...opts })).rejects.toMatchObject({
      code: 'model_integrity',
      message: expect.stringMatching(/published as the current model, not the shadow one/),
    });
    // And the page's model refuses the shadow publication.
    vi.stubGlobal('fetch', fakeFetch(await served(shadow, signer, { sequence: 8, role: 'shadow' })).fetch);
    const v = await createVitrine({ model: URL_, backend: 'cpu', storage: 'memory', modelKey: spki }, { setTimer: () => () => undefined });
    expect(v.status.degraded).toMatch(/^model_integrity: .* published as the shadow model, not the current one/);
    v.close();
    vi.unstubAllGlobals();
  });

  it('refuses the same sequence for another version or other weights; the same content again is fine', async () => {
    const { signer, spki } = await keys();
    const caches = new InMemoryCacheStorage();
    const accepted = variant(1100);
    await loadModel(URL_, env(await served(accepted, signer, { sequence: 7 }), caches, spki));
    const other = variant(1200);
    const model = await loadModel(URL_, env(await served(other, signer, { sequence: 7 }), caches, spki));
    expect(model.manifest.version).toBe(accepted.manifest.version);
    expect(model.warning).toMatch(
      new RegExp(`sequence 7 was accepted before from this URL for other content \\(${accepted.manifest.version}\\)`),
    );
    // Also from the high-water record alone (the last-good record gone).
    const bucket = await bucketOf(caches);
    for (const key of [...bucket.keys()]) if (key.includes('last-good')) bucket.delete(key);
    const err = await loadModel(URL_, env(await served(other, signer, { sequence: 7 }), caches, spki)).catch((e) => e);
    expect(err).toMatchObject({ code: 'model_integrity', message: expect.stringMatching(/sequence 7 was accepted before/) });
    // The same publication again (a reload) is accepted.
    const again = await loadModel(URL_, env(await served(accepted, signer, { sequence: 7 }), caches, spki));
    expect(again.warning).toBeUndefined();
    expect(again.manifest.version).toBe(accepted.manifest.version);
  });

  it('reports the rollback floor each load was held to, and none once the Cache API record is gone', async () => {
    const { signer, spki } = await keys();
    const caches = new InMemoryCacheStorage();
    const first = await loadModel(URL_, env(await served(variant(), signer, { sequence: 3 }), caches, spki));
    expect(first.integrity).toMatchObject({ sequence: 3, rollbackFloor: 'none' });
    const second = await loadModel(URL_, env(await served(variant(40), signer, { sequence: 5 }), caches, spki));
    expect(second.integrity).toMatchObject({ sequence: 5, rollbackFloor: 3 });
    const refused = await loadModel(URL_, env(await served(variant(), signer, { sequence: 4 }), caches, spki));
    expect(refused.integrity).toMatchObject({ sequence: 5, source: 'last-good', rollbackFloor: 5 });
    // forget() deletes the bucket (eviction does the same): the floor is gone and an older signed
    // manifest is accepted again. Not hidden: the status says there was no floor.
    await caches.delete('vitrine-models-v1');
    const reset = await loadModel(URL_, env(await served(variant(), signer, { sequence: 4 }), caches, spki));
    expect(reset.warning).toBeUndefined();
    expect(reset.integrity).toMatchObject({ sequence: 4, rollbackFloor: 'none' });
    // No Cache API at all: never a floor.
    const noCache = await loadModel(URL_, { ...env(await served(variant(), signer, { sequence: 4 }), caches, spki), caches: undefined });
    expect(noCache.integrity).toMatchObject({ signature: 'verified', rollbackFloor: 'none' });
  });

  it('fails with model_integrity naming modelKey when the pinned key cannot be imported', async () => {
    const files = await served(variant(), null, { sequence: 1 });
    const err = await loadModel(URL_, {
      ...env(files, new InMemoryCacheStorage()),
      modelKey: Promise.reject(new Error('bad point')),
    }).catch((e) => e);
    expect(err).toMatchObject({ code: 'model_integrity', field: 'modelKey' });
  });
});

describe('loader without a pinned key (today behaviour, said so)', () => {
  it('accepts unsigned and lower-sequence manifests and reports signature unchecked', async () => {
    const caches = new InMemoryCacheStorage();
    await loadModel(URL_, env(await served(variant(77), null, { sequence: 5 }), caches));
    const model = await loadModel(URL_, env(await served(variant(), null, { sequence: 1 }), caches));
    expect(model.warning).toBeUndefined();
    expect(model.integrity).toEqual({
      signature: 'unchecked',
      versionLabel: 'matches',
      sequence: 1,
      source: 'network',
      rollbackFloor: 'none',
    });
    const relabelled = { ...variant(77), manifest: { ...variant(77).manifest, version: 'coupons-anything' } };
    const other = await loadModel(URL_, env(await served(relabelled, null, { sequence: 1 }), new InMemoryCacheStorage()));
    expect(other.integrity?.versionLabel).toBe('mismatch');
  });
});

describe('createVitrine with modelKey', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('validates the key synchronously: junk and other curves reject with invalid_options', async () => {
    for (const modelKey of ['abc', 'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE', { kty: 'OKP', crv: 'Ed25519', x: 'A' }, 42]) {
      const err = await createVitrine({ model: URL_, storage: 'memory', modelKey: modelKey as string }).catch((e) => e);
      expect(err).toBeInstanceOf(VitrineError);
      expect(err).toMatchObject({ code: 'invalid_options', field: 'options.modelKey' });
    }
  });

  it('ranks with a verified model and reports it in status.integrity (SPKI and JWK)', async () => {
    const { signer, spki } = await keys();
    vi.stubGlobal('fetch', fakeFetch(await served(variant(), signer, { sequence: 1 })).fetch);
    const jwk = await subtle.exportKey('jwk', (await importPublicKey(subtle, spki)).key);
    for (const modelKey of [spki, jwk]) {
      const v = await createVitrine({ model: URL_, backend: 'cpu', storage: 'memory', modelKey });
      expect(v.status.degraded).toBeUndefined();
      expect(v.status.integrity).toMatchObject({ signature: 'verified', keyId: signer.keyId, sequence: 1, versionLabel: 'matches' });
      const d = await v.rank([{ id: 'bar-1d', type: 'Bar' }]);
      expect(d.backend).toBe('cpu');
      v.close();
    }
  });

  it('degrades to the shop order with the reason when the only manifest is refused, and never rejects', async () => {
    const attacker = await keys();
    const { spki } = await keys();
    vi.stubGlobal('fetch', fakeFetch(await served(variant(), attacker.signer, { sequence: 1 })).fetch);
    const errors: VitrineError[] = [];
    const v = await createVitrine(
      { model: URL_, backend: 'cpu', storage: 'memory', modelKey: spki, onError: (e) => errors.push(e) },
      { setTimer: () => () => undefined },
    );
    expect(v.status.backend).toBe('rules');
    expect(v.status.degraded).toMatch(/^model_integrity: signed with key [0-9a-f]{16}, not the pinned key/);
    expect(v.status.integrity).toBeUndefined();
    const d = await v.rank([
      { id: 'a', type: 'Bar' },
      { id: 'b', type: 'Bar' },
    ]);
    expect(d.items.map((i) => i.id)).toEqual(['a', 'b']);
    expect(d.degraded).toMatch(/model_integrity/);
    expect(errors.every((e) => e instanceof VitrineError)).toBe(true);
    v.close();
  });

  it('says signature unchecked without a key', async () => {
    vi.stubGlobal('fetch', fakeFetch(await served(variant(), null, { sequence: 1 })).fetch);
    const v = await createVitrine({ model: URL_, backend: 'cpu', storage: 'memory' });
    expect(v.status.integrity).toMatchObject({ signature: 'unchecked' });
    expect(v.status.warnings).toEqual([]);
    v.close();
  });

  it('without a key, new weights under the old label are used but the status warns', async () => {
    const relabelled = variant(7);
    relabelled.manifest = { ...relabelled.manifest, version: seed.version };
    vi.stubGlobal('fetch', fakeFetch(await served(relabelled, null, { sequence: 1 })).fetch);
    const v = await createVitrine({ model: URL_, backend: 'cpu', storage: 'memory' });
    expect(v.status.integrity).toMatchObject({ signature: 'unchecked', versionLabel: 'mismatch' });
    expect(v.status.warnings.join(' ')).toMatch(/version label does not match its weights \(pin modelKey/);
    v.close();
  });
});
