/** The checks a pinned `modelKey` adds: signature, signed role, version label and rollback floor (see loader.ts checkTrust). */
import { verifyManifestSignature, weightsDigest, type PinnedKey, type PublicationRole } from '@vitrine/core/artifact';

export { importPublicKey } from '@vitrine/core/artifact';
import { VitrineError } from '../errors';
import type { ModelIntegrity } from '../types';
import type { Floor, Received } from './loader';
import { MODEL_KEY_SHAPE } from '../validate';

type Checked = Omit<ModelIntegrity, 'rollbackFloor'>;

export async function checkPinned(
  { manifest, raw }: Received,
  subtle: SubtleCrypto,
  pinned: PinnedKey,
  role: PublicationRole,
  floors: Floor[],
  base: Omit<Checked, 'signature'>,
  labelProblem: string | null | undefined,
  started: number,
): Promise<Checked> {
  const refuse = (message: string) => new VitrineError('model_integrity', message, { field: 'model' });
  const check = await verifyManifestSignature(subtle, raw, pinned);
  if (!check.ok) throw refuse(check.message);
  if (manifest.role !== role) {
    throw refuse(
      manifest.role === undefined
        ? `a signed manifest must name its role (expected ${role})`
        : `manifest ${manifest.version} was published as the ${manifest.role} model, not the ${role} one`,
    );
  }
  if (labelProblem) throw refuse(labelProblem);
  if (manifest.sequence === undefined) throw refuse('a signed manifest must carry a sequence');
  const highest = Math.max(0, ...floors.map((f) => f.sequence));
  if (manifest.sequence < highest) {
    throw refuse(`stale manifest: sequence ${manifest.sequence} is below ${highest}, accepted before from this URL`);
  }
  if (manifest.sequence === highest) {
    const weights = await weightsDigest(subtle, manifest);
    const other = floors.find(
      (f) => f.sequence === highest && (f.version !== manifest.version || (f.weights !== undefined && f.weights !== weights)),
    );
    if (other) {
      throw refuse(
        `sequence ${highest} was accepted before from this URL for other content (${other.version ?? 'unknown'}), not ${manifest.version}`,
      );
    }
  }
  return { signature: 'verified', keyId: check.keyId, ...base, verifyMs: Math.round((performance.now() - started) * 100) / 100 };
}

/** DER header of every P-256 SPKI public key (id-ecPublicKey, prime256v1, uncompressed point follows). */
const P256_SPKI_HEADER = '3059301306072a8648ce3d020106082a8648ce3d030107034200';
const B64URL_32 = /^[A-Za-z0-9_-]{43}$/;

function isP256Spki(text: string): boolean {
  try {
    const body = text
      .replace(/-----(BEGIN|END) PUBLIC KEY-----/g, '')
      .replace(/\s+/g, '')
      .replace(/-/g, '+')
      .replace(/_/g, '/');
    const bin = atob(body.padEnd(Math.ceil(body.length / 4) * 4, '='));
    const hex = Array.from(bin, (c) => c.charCodeAt(0).toString(16).padStart(2, '0')).join('');
    return bin.length === 91 && hex.startsWith(P256_SPKI_HEADER) && hex.slice(52, 54) === '04';
  } catch {
    return false;
  }
}

function isP256Jwk(k: unknown): boolean {
  const jwk = k as JsonWebKey;
  return jwk?.kty === 'EC' && jwk.crv === 'P-256' && B64URL_32.test(jwk.x ?? '') && B64URL_32.test(jwk.y ?? '');
}

function safeJwk(text: string): boolean {
  try {
    return isP256Jwk(JSON.parse(text));
  } catch {
    return false;
  }
}

/**
 * Checked before createVitrine resolves (not when the first model arrives), so a mistyped key
 * rejects createVitrine instead of silently refusing every model.
 */
export function checkModelKeyShape(key: string | JsonWebKey): void {
  const ok = typeof key === 'string' ? (key.trim().startsWith('{') ? safeJwk(key) : isP256Spki(key)) : isP256Jwk(key);
  if (!ok) {
    const got = typeof key === 'string' ? JSON.stringify(key.slice(0, 60)) : 'an object';
    throw new VitrineError('invalid_options', `options.modelKey ${MODEL_KEY_SHAPE} (got ${got})`, { field: 'options.modelKey' });
  }
}
