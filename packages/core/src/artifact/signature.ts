/**
 * Signed model manifests, shared by the server (signs at publish time) and the SDK (verifies with
 * a pinned public key). Only WebCrypto (`crypto.subtle`, Node 20 and every browser) is used.
 *
 * - Signature: ECDSA P-256 with SHA-256 (`alg: 'ES256'`, IEEE P1363 r‖s, base64url) over
 *   `signingBytes(manifest)`: a fixed prefix and the canonical JSON (sorted keys, no spaces) of
 *   the manifest without `signature`, with each file reduced to `{ bytes, sha256 }`. File paths are
 *   left out because the server rewrites them (`/v1/models/current` points into a version folder);
 *   the bytes they name are bound by their sha256.
 * - Key id: the first 16 hex digits of the sha256 of the public key's SPKI bytes, so a verifier
 *   can tell "signed with another key" from "bad signature".
 * - Version label: `<name>-<first 12 hex of the weights digest>` where the weights digest is the
 *   single weight file's sha256 (the registry's content address, also the shipped seed's), or for
 *   several files the sha256 of their hashes joined by newlines. `checkVersionLabel` computes the
 *   mismatch; only a verifier with a pinned key refuses it. Without a key it is reported, not
 *   refused: whoever can rewrite an unsigned manifest can rewrite its label too, so the check
 *   proves nothing there, and legitimate manifests carry other labels (the evaluation twin
 *   `manifest.float32.json` is `<version>-float32`, models published outside the registry).
 * - `role`: `'current'` or `'shadow'`, the channel the publication was made for. A verifier
 *   requires the one it loads (the page's model: current; the signals stage's: shadow), so a
 *   signed shadow or a candidate later rejected cannot be served as the current model.
 * - `sequence`: an integer the server raises at every publish (all roles share it); a verifier
 *   refuses a lower one than it accepted before for the same URL, and the same one for other
 *   content. `rollbackOf` marks a republished older version (a rollback's role is current).
 */
import { toHex } from '../bytes';
import type { ModelManifest } from './manifest';

export const SIGNATURE_ALG = 'ES256';
/** Domain separation: these bytes can never be mistaken for another signed message. */
export const SIGNING_PREFIX = 'vitrine-model-signature@1\n';
const ECDSA = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGN = { name: 'ECDSA', hash: 'SHA-256' } as const;
const LABEL_HEX = 12;

export interface ManifestSignature {
  alg: typeof SIGNATURE_ALG;
  keyId: string;
  /** base64url of the 64-byte r‖s signature. */
  value: string;
}

/** A verification key ready to use, with its id. */
export interface PinnedKey {
  key: CryptoKey;
  keyId: string;
}

/** A signing key ready to use, with the id and SPKI (base64) of its public half. */
export interface SigningKey {
  privateKey: CryptoKey;
  keyId: string;
  publicKeySpki: string;
}

/** JSON with object keys sorted and no whitespace; `undefined` members are left out, as JSON.stringify does. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new Error('canonicalJson: non-finite number');
    return JSON.stringify(value) ?? 'null';
  }
  if (Array.isArray(value)) return `[${value.map((x) => (x === undefined ? 'null' : canonicalJson(x))).join(',')}]`;
  const entries = Object.keys(value)
    .sort()
    .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
  return `{${entries.join(',')}}`;
}

/** What is signed: the manifest (as received, unknown fields included) without `signature` and without file paths. */
export function signingBytes(manifest: Record<string, unknown>): Uint8Array {
  const { signature: _, ...rest } = manifest;
  const files = Array.isArray(rest.files)
    ? rest.files.map((f: { bytes?: unknown; sha256?: unknown }) => ({ bytes: f?.bytes, sha256: f?.sha256 }))
    : rest.files;
  return new TextEncoder().encode(SIGNING_PREFIX + canonicalJson({ ...rest, files }));
}

export function base64UrlEncode(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Decodes base64 or base64url (padding optional); throws on anything else. */
export function base64Decode(text: string): Uint8Array {
  const clean = text.replace(/\s+/g, '').replace(/-/g, '+').replace(/_/g, '/');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean)) throw new Error('not base64');
  const bin = atob(clean.padEnd(Math.ceil(clean.length / 4) * 4, '='));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

async function keyIdOfSpki(subtle: SubtleCrypto, spki: Uint8Array): Promise<string> {
  return toHex(new Uint8Array(await subtle.digest('SHA-256', spki as Uint8Array<ArrayBuffer>))).slice(0, 16);
}

/**
 * Imports a pinned P-256 public key: SPKI DER as base64/base64url (optionally inside a PEM
 * `PUBLIC KEY` block), a JWK object, or a JWK as a JSON string. Throws an Error saying why not.
 */
export async function importPublicKey(subtle: SubtleCrypto, input: string | JsonWebKey): Promise<PinnedKey> {
  let key: CryptoKey;
  if (typeof input === 'object' || input.trim().startsWith('{')) {
    const jwk = (typeof input === 'object' ? input : JSON.parse(input)) as JsonWebKey;
    if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || !jwk.x || !jwk.y)
      throw new Error('must be an EC P-256 public key (JWK kty EC, crv P-256)');
    const { d: _, ...pub } = jwk; // never keep a private part a page may have pasted by mistake
    key = await subtle.importKey('jwk', { kty: 'EC', crv: 'P-256', x: pub.x, y: pub.y, ext: true }, ECDSA, true, ['verify']);
  } else {
    const body = input.replace(/-----(BEGIN|END) PUBLIC KEY-----/g, '');
    let der: Uint8Array;
    try {
      der = base64Decode(body);
    } catch {
      throw new Error('must be a P-256 public key as SPKI base64 or a JWK');
    }
    key = await subtle.importKey('spki', der as Uint8Array<ArrayBuffer>, ECDSA, true, ['verify']);
  }
  const spki = new Uint8Array(await subtle.exportKey('spki', key));
  return { key, keyId: await keyIdOfSpki(subtle, spki) };
}

/** Imports a P-256 private key: PKCS#8 PEM (`PRIVATE KEY`) or a JWK (object or JSON string with `d`). */
export async function importSigningKey(subtle: SubtleCrypto, input: string | JsonWebKey): Promise<SigningKey> {
  let privateKey: CryptoKey;
  let jwk: JsonWebKey;
  if (typeof input === 'object' || input.trim().startsWith('{')) {
    jwk = (typeof input === 'object' ? input : JSON.parse(input)) as JsonWebKey;
    if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || !jwk.d) throw new Error('must be an EC P-256 private key (JWK with d)');
    privateKey = await subtle.importKey('jwk', jwk, ECDSA, true, ['sign']);
  } else {
    if (!/-----BEGIN PRIVATE KEY-----/.test(input)) throw new Error('must be a PKCS#8 PEM ("BEGIN PRIVATE KEY") or a JWK');
    const der = base64Decode(input.replace(/-----(BEGIN|END) PRIVATE KEY-----/g, ''));
    privateKey = await subtle.importKey('pkcs8', der as Uint8Array<ArrayBuffer>, ECDSA, true, ['sign']);
    jwk = await subtle.exportKey('jwk', privateKey);
  }
  const publicKey = await subtle.importKey('jwk', { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y, ext: true }, ECDSA, true, ['verify']);
  const spki = new Uint8Array(await subtle.exportKey('spki', publicKey));
  return { privateKey, keyId: await keyIdOfSpki(subtle, spki), publicKeySpki: btoa(String.fromCharCode(...spki)) };
}

/** A new P-256 key pair: the private key as PKCS#8 PEM, the public key as SPKI base64 (what `modelKey` takes). */
export async function generateSigningKeyPair(subtle: SubtleCrypto): Promise<{ privateKeyPem: string; publicKeySpki: string }> {
  const pair = (await subtle.generateKey(ECDSA, true, ['sign', 'verify'])) as CryptoKeyPair;
  const pkcs8 = new Uint8Array(await subtle.exportKey('pkcs8', pair.privateKey));
  const spki = new Uint8Array(await subtle.exportKey('spki', pair.publicKey));
  const b64 = btoa(String.fromCharCode(...pkcs8));
  const pem = `-----BEGIN PRIVATE KEY-----\n${b64.match(/.{1,64}/g)!.join('\n')}\n-----END PRIVATE KEY-----\n`;
  return { privateKeyPem: pem, publicKeySpki: btoa(String.fromCharCode(...spki)) };
}

/** The channel a publication is made for: the page's model, or the shadow the signals stage evaluates. */
export type PublicationRole = 'current' | 'shadow';

/** What one signed publication says besides the manifest: its sequence, role and, for a rollback, the version it replaces. */
export interface SignedPublication {
  sequence: number;
  role: PublicationRole;
  rollbackOf?: string;
}

/** The manifest with `sequence`, `role` and `rollbackOf` (when given) set and signed; an earlier signature, role or rollback mark goes. */
export async function signManifest<M extends ModelManifest>(
  subtle: SubtleCrypto,
  manifest: M,
  key: SigningKey,
  publication: SignedPublication,
): Promise<M> {
  const { signature: _s, rollbackOf: _r, sequence: _q, role: _o, ...rest } = manifest;
  const unsigned = {
    ...rest,
    sequence: publication.sequence,
    role: publication.role,
    ...(publication.rollbackOf ? { rollbackOf: publication.rollbackOf } : {}),
  };
  const sig = await subtle.sign(SIGN, key.privateKey, signingBytes(unsigned) as Uint8Array<ArrayBuffer>);
  const signature: ManifestSignature = { alg: SIGNATURE_ALG, keyId: key.keyId, value: base64UrlEncode(new Uint8Array(sig)) };
  return { ...unsigned, signature } as M;
}

export type SignatureCheck =
  { ok: true; keyId: string } | { ok: false; reason: 'unsigned' | 'wrong_key' | 'bad_signature'; message: string };

/** Checks `raw` (the manifest JSON as received) against the pinned key. Never throws. */
export async function verifyManifestSignature(subtle: SubtleCrypto, raw: unknown, pinned: PinnedKey): Promise<SignatureCheck> {
  const sig = (raw as { signature?: Partial<ManifestSignature> } | null)?.signature;
  if (!sig || typeof sig !== 'object') return { ok: false, reason: 'unsigned', message: 'the manifest is not signed' };
  if (sig.alg !== SIGNATURE_ALG || typeof sig.value !== 'string')
    return { ok: false, reason: 'bad_signature', message: `unsupported signature (alg ${String(sig.alg)})` };
  if (sig.keyId !== pinned.keyId) {
    return { ok: false, reason: 'wrong_key', message: `signed with key ${String(sig.keyId)}, not the pinned key ${pinned.keyId}` };
  }
  try {
    const bytes = base64Decode(sig.value);
    const ok = await subtle.verify(
      SIGN,
      pinned.key,
      bytes as Uint8Array<ArrayBuffer>,
      signingBytes(raw as Record<string, unknown>) as Uint8Array<ArrayBuffer>,
    );
    if (ok) return { ok: true, keyId: pinned.keyId };
  } catch {
    /* malformed value: reported below */
  }
  return { ok: false, reason: 'bad_signature', message: `the signature does not verify with the pinned key ${pinned.keyId}` };
}

/** The weights digest a version label is bound to (see the module comment). */
export async function weightsDigest(subtle: SubtleCrypto, manifest: Pick<ModelManifest, 'files'>): Promise<string> {
  if (manifest.files.length === 1) return manifest.files[0].sha256;
  const joined = new TextEncoder().encode(manifest.files.map((f) => f.sha256).join('\n'));
  return toHex(new Uint8Array(await subtle.digest('SHA-256', joined)));
}

/** The label a manifest's content gives it: `<name>-<12 hex of the weights digest>`. */
export async function contentLabel(subtle: SubtleCrypto, manifest: Pick<ModelManifest, 'name' | 'files'>): Promise<string> {
  return `${manifest.name}-${(await weightsDigest(subtle, manifest)).slice(0, LABEL_HEX)}`;
}

/** Undefined when the version label matches the content, else why not. */
export async function checkVersionLabel(subtle: SubtleCrypto, manifest: ModelManifest): Promise<string | undefined> {
  const expected = await contentLabel(subtle, manifest);
  return manifest.version === expected ? undefined : `version label ${manifest.version} does not match its weights (expected ${expected})`;
}
