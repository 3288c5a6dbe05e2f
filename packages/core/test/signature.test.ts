import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  canonicalJson,
  checkVersionLabel,
  contentLabel,
  generateSigningKeyPair,
  importPublicKey,
  importSigningKey,
  parseManifest,
  signingBytes,
  signManifest,
  verifyManifestSignature,
  type ModelManifest,
} from '@vitrine/core/artifact';

const subtle = globalThis.crypto.subtle;
// Read as a file (core depends on no workspace): the shipped seed, the manifest every server starts from.
const seedPath = new URL('../../../models/coupons/manifest.json', import.meta.url);
const seed = parseManifest(JSON.parse(readFileSync(seedPath, 'utf8')));
const clone = <T>(x: T): T => JSON.parse(JSON.stringify(x));

async function keyPair() {
  const { privateKeyPem, publicKeySpki } = await generateSigningKeyPair(subtle);
  return { signer: await importSigningKey(subtle, privateKeyPem), pinned: await importPublicKey(subtle, publicKeySpki), publicKeySpki };
}

describe('canonical signing bytes', () => {
  it('sort keys at every depth and ignore whitespace and key order', () => {
    expect(canonicalJson({ b: 1, a: [{ d: 'x', c: null }], e: undefined })).toBe('{"a":[{"c":null,"d":"x"}],"b":1}');
    const reverse = (x: unknown): unknown =>
      Array.isArray(x)
        ? x.map(reverse)
        : x && typeof x === 'object'
          ? Object.fromEntries(
              Object.entries(x)
                .reverse()
                .map(([k, v]) => [k, reverse(v)]),
            )
          : x;
    const reordered = reverse(seed) as Record<string, unknown>;
    expect(Object.keys(reordered)[0]).toBe('metrics');
    expect(signingBytes(reordered)).toEqual(signingBytes(seed as unknown as Record<string, unknown>));
  });

  it('do not depend on file paths (the server rewrites them) but do on everything else', () => {
    const moved = { ...seed, files: seed.files.map((f) => ({ ...f, path: `elsewhere/${f.path}` })) };
    const base = signingBytes(seed as unknown as Record<string, unknown>);
    expect(signingBytes(moved)).toEqual(base);
    expect(signingBytes({ ...seed, createdAt: 'later' })).not.toEqual(base);
    expect(signingBytes({ ...seed, files: [{ ...seed.files[0], bytes: 1 }] })).not.toEqual(base);
    expect(signingBytes({ ...seed, signature: { alg: 'ES256', keyId: 'x', value: 'y' } })).toEqual(base);
  });
});

describe('ECDSA P-256 manifest signatures', () => {
  it('verify what was signed, with the same key id on both halves', async () => {
    const { signer, pinned } = await keyPair();
    expect(signer.keyId).toBe(pinned.keyId);
    const signed = await signManifest(subtle, seed, signer, { sequence: 3, role: 'current' });
    expect(signed.sequence).toBe(3);
    expect(signed.role).toBe('current');
    expect(signed.signature).toMatchObject({ alg: 'ES256', keyId: pinned.keyId });
    // Through JSON (the wire) and the schema (which keeps the new fields).
    const wire = JSON.parse(JSON.stringify(signed));
    expect(parseManifest(wire).signature).toEqual(signed.signature);
    expect(await verifyManifestSignature(subtle, wire, pinned)).toEqual({ ok: true, keyId: pinned.keyId });
  });

  it('refuse unsigned, altered, re-sequenced and other-key manifests, naming why', async () => {
    const { signer, pinned } = await keyPair();
    const other = await keyPair();
    const signed = clone(await signManifest(subtle, seed, signer, { sequence: 5, role: 'current' }));
    const { signature: _, ...unsigned } = signed;
    expect(await verifyManifestSignature(subtle, unsigned, pinned)).toMatchObject({ ok: false, reason: 'unsigned' });
    const tampered = clone(signed);
    tampered.files[0].sha256 = 'f'.repeat(64);
    expect(await verifyManifestSignature(subtle, tampered, pinned)).toMatchObject({ ok: false, reason: 'bad_signature' });
    expect(await verifyManifestSignature(subtle, { ...signed, sequence: 6 }, pinned)).toMatchObject({ reason: 'bad_signature' });
    expect(await verifyManifestSignature(subtle, { ...signed, rollbackOf: 'x' }, pinned)).toMatchObject({ reason: 'bad_signature' });
    // The role is signed: a shadow publication cannot be relabelled current, nor the role dropped.
    expect(await verifyManifestSignature(subtle, { ...signed, role: 'shadow' }, pinned)).toMatchObject({ reason: 'bad_signature' });
    const { role: _r, ...roleless } = signed;
    expect(await verifyManifestSignature(subtle, roleless, pinned)).toMatchObject({ reason: 'bad_signature' });
    expect(() => parseManifest({ ...signed, role: 'candidate' })).toThrow(/^manifest\.role/);
    const otherSigned = await signManifest(subtle, seed, other.signer, { sequence: 5, role: 'current' });
    expect(await verifyManifestSignature(subtle, otherSigned, pinned)).toMatchObject({ ok: false, reason: 'wrong_key' });
    // A forged key id does not help: the signature still has to verify with the pinned key.
    const forged = { ...otherSigned, signature: { ...otherSigned.signature!, keyId: pinned.keyId } };
    expect(await verifyManifestSignature(subtle, forged, pinned)).toMatchObject({ ok: false, reason: 'bad_signature' });
    expect(await verifyManifestSignature(subtle, { ...signed, signature: { ...signed.signature!, value: '!!' } }, pinned)).toMatchObject({
      reason: 'bad_signature',
    });
  });

  it('replace an earlier signature and rollback mark when re-signing', async () => {
    const { signer, pinned } = await keyPair();
    const first = await signManifest(subtle, seed, signer, { sequence: 1, role: 'shadow', rollbackOf: 'coupons-aaaaaaaaaaaa' });
    const again = await signManifest(subtle, first, signer, { sequence: 2, role: 'current' });
    expect(again.rollbackOf).toBeUndefined();
    expect(again.role).toBe('current');
    expect((await verifyManifestSignature(subtle, again, pinned)).ok).toBe(true);
  });

  it('import keys as SPKI base64, PEM and JWK, and refuse other curves and junk', async () => {
    const { publicKeySpki, pinned } = await keyPair();
    const pem = `-----BEGIN PUBLIC KEY-----\n${publicKeySpki}\n-----END PUBLIC KEY-----`;
    expect((await importPublicKey(subtle, pem)).keyId).toBe(pinned.keyId);
    const jwk = await subtle.exportKey('jwk', pinned.key);
    expect((await importPublicKey(subtle, jwk)).keyId).toBe(pinned.keyId);
    expect((await importPublicKey(subtle, JSON.stringify(jwk))).keyId).toBe(pinned.keyId);
    await expect(importPublicKey(subtle, 'not a key!')).rejects.toThrow(/SPKI base64 or a JWK/);
    await expect(importPublicKey(subtle, { kty: 'OKP', crv: 'Ed25519', x: 'AA' })).rejects.toThrow(/P-256/);
    const p384 = (await subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-384' }, true, ['sign'])) as CryptoKeyPair;
    const spki384 = Buffer.from(await subtle.exportKey('spki', p384.publicKey)).toString('base64');
    await expect(importPublicKey(subtle, spki384)).rejects.toThrow();
    await expect(importSigningKey(subtle, publicKeySpki)).rejects.toThrow(/PKCS#8/);
  });
});

describe('version label bound to the content', () => {
  it('holds for the shipped seed and fails for new weights under its label', async () => {
    expect(await contentLabel(subtle, seed)).toBe(seed.version);
    expect(await checkVersionLabel(subtle, seed)).toBeUndefined();
    const swapped: ModelManifest = { ...seed, files: [{ ...seed.files[0], sha256: 'a'.repeat(64) }] };
    expect(await checkVersionLabel(subtle, swapped)).toMatch(/does not match its weights \(expected coupons-aaaaaaaaaaaa\)/);
  });

  it('hashes the list of hashes for several files', async () => {
    const two: ModelManifest = { ...seed, files: [seed.files[0], { ...seed.files[0], sha256: 'b'.repeat(64) }] };
    const label = await contentLabel(subtle, two);
    expect(label).toMatch(/^coupons-[0-9a-f]{12}$/);
    expect(label).not.toBe(seed.version);
  });
});
