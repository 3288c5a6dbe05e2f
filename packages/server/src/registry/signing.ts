/**
 * Owns the model signing key: where it comes from (environment, a file, the dev key `npm start`
 * keeps in the data directory), the refusal to run unsigned unless asked, and signing a
 * publication (ECDSA P-256, @vitrine/core/artifact's signature format).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import {
  generateSigningKeyPair,
  importSigningKey,
  signManifest,
  type ModelManifest,
  type SignedPublication,
  type SigningKey,
} from '@vitrine/core/artifact';
import type { StoredModel } from '../store/models';

/** The file name of the dev key in a data directory (what `npm start` generates). */
export const DEV_KEY_FILE = 'signing-key.pem';

export interface SigningConfig {
  /** ECDSA P-256 private key: PKCS#8 PEM or a JWK (JSON). */
  privateKey?: string;
  /** Where it came from, for messages (`VITRINE_SIGNING_KEY`, a file path). */
  source?: string;
  /** Refuse to start without a key. `configFromEnv` sets it unless VITRINE_UNSIGNED_MODELS=1; tests leave it off. */
  required: boolean;
}

export const UNSIGNED_REFUSED =
  'no model signing key: set VITRINE_SIGNING_KEY (a P-256 private key as PKCS#8 PEM or JWK) or VITRINE_SIGNING_KEY_FILE, ' +
  'or VITRINE_UNSIGNED_MODELS=1 to serve unsigned manifests (development only: SDKs that pin a key refuse them)';

/**
 * The signing key from the environment: VITRINE_SIGNING_KEY (the key itself), else
 * VITRINE_SIGNING_KEY_FILE (a path), else `<VITRINE_DATA_DIR>/signing-key.pem` when it exists (the
 * dev key `npm start` keeps with the embedded store). Required unless VITRINE_UNSIGNED_MODELS=1.
 */
export function signingFromEnv(env: NodeJS.ProcessEnv = process.env): SigningConfig {
  const required = env.VITRINE_UNSIGNED_MODELS !== '1';
  if (env.VITRINE_SIGNING_KEY) return { privateKey: env.VITRINE_SIGNING_KEY, source: 'VITRINE_SIGNING_KEY', required };
  const file = env.VITRINE_SIGNING_KEY_FILE;
  if (file) {
    try {
      return { privateKey: readFileSync(file, 'utf8'), source: resolve(file), required };
    } catch (err) {
      throw new Error(`VITRINE_SIGNING_KEY_FILE: cannot read ${file} (${(err as Error).message})`, { cause: err });
    }
  }
  if (!env.DATABASE_URL) {
    const dev = join(resolve(env.VITRINE_DATA_DIR ?? '.vitrine'), DEV_KEY_FILE);
    if (existsSync(dev)) return { privateKey: readFileSync(dev, 'utf8'), source: dev, required };
  }
  return { required };
}

/** The key a server signs with, or null when it may run unsigned; throws when a key is required and missing or unusable. */
export async function loadSigningKey(config: SigningConfig | undefined): Promise<SigningKey | null> {
  if (!config?.privateKey) {
    if (config?.required) throw new Error(UNSIGNED_REFUSED);
    return null;
  }
  try {
    return await importSigningKey(globalThis.crypto.subtle, config.privateKey.trim());
  } catch (err) {
    throw new Error(`model signing key from ${config.source ?? 'the configuration'} is not usable: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/** Signs a publication of `manifest` (file paths relative to its version folder) with its sequence and role. */
export function signPublication(key: SigningKey, manifest: ModelManifest, publication: SignedPublication): Promise<ModelManifest> {
  return signManifest(globalThis.crypto.subtle, manifest, key, publication);
}

/**
 * The dev key pair in `dir` (`signing-key.pem`, mode 0600), generated on first use so it survives
 * restarts; returns the PEM and the public key as SPKI base64 (what the SDK's `modelKey` takes).
 */
export async function ensureDevSigningKey(dir: string): Promise<{ path: string; publicKeySpki: string }> {
  const path = join(resolve(dir), DEV_KEY_FILE);
  if (!existsSync(path)) {
    const { privateKeyPem } = await generateSigningKeyPair(globalThis.crypto.subtle);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, privateKeyPem, { mode: 0o600, flag: 'wx' });
  }
  const key = await importSigningKey(globalThis.crypto.subtle, readFileSync(path, 'utf8'));
  return { path, publicKeySpki: key.publicKeySpki };
}

/** What GET /v1/models/* serves for a version: its newest signed publication, else the stored manifest. */
export function servedManifest(model: StoredModel): ModelManifest {
  return model.published ? (JSON.parse(model.published.json) as ModelManifest) : model.manifest;
}

/** The ETag of the current manifest: a signed publication adds its sequence (a rollback or re-signing serves the same version anew). */
export function currentEtag(model: StoredModel): string {
  return model.published ? `"${model.version}.${model.published.sequence}"` : `"${model.version}"`;
}
