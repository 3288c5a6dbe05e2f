/** Owns reading the trained artifact from disk for bootstrap: manifest, sha256/size check, its float32 twin. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { dequantize, parseManifest, type ModelManifest } from '@vitrine/core/artifact';
import * as v from 'valibot';
import { UpdatePriorSchema, type UpdatePrior } from '@vitrine/core/privacy';
import { exactBuffer, float32sOf } from '@vitrine/core/bytes';
import type { ModelArtifact } from '../store/models';
import { packMaster, sha256 } from './weights';

/** The published artifact at `manifestPath`, verified by its sha256, ready to store. */
export function readSeedArtifact(manifestPath: string): ModelArtifact {
  const manifest = parseManifest(JSON.parse(readFileSync(manifestPath, 'utf8')));
  if (manifest.files.length !== 1) throw new Error(`${manifestPath}: expected one weight file`);
  const file = manifest.files[0];
  const dir = join(dirname(manifestPath), dirname(file.path));
  const weights = readFileSync(join(dirname(manifestPath), file.path));
  if (sha256(weights) !== file.sha256 || weights.byteLength !== file.bytes) {
    throw new Error(`${file.path}: sha256 or size does not match the manifest`);
  }
  // The artifact's float32 twin, when published beside it, is the master copy for training.
  return { manifest: localManifest(manifest), weights, master: readMaster(dir, manifest) };
}

/** The manifest as stored: one weight file, addressed relative to the version's own folder. */
function localManifest(m: ModelManifest): ModelManifest {
  return { ...m, files: m.files.map((f) => ({ ...f, path: f.path.slice(f.path.lastIndexOf('/') + 1) })) };
}

function readMaster(dir: string, manifest: ModelManifest): Uint8Array | null {
  const path = join(dir, 'manifest.float32.json');
  if (!existsSync(path)) return null;
  const twin = parseManifest(JSON.parse(readFileSync(path, 'utf8')));
  const bytes = readFileSync(join(dir, twin.files[0].path));
  if (sha256(bytes) !== twin.files[0].sha256) throw new Error(`${path}: float32 weights do not match their sha256`);
  return packMaster(manifest, new Map(twin.tensors.map((t) => [t.name, dequantize(t, exactBuffer(bytes))])));
}

/**
 * The seed's update prior (clip norms and Fisher, computed from the seed's training data), when
 * published beside the weights as update-prior.{json,bin}; null for an artifact without one.
 */
export function readSeedPrior(manifestPath: string): UpdatePrior | null {
  const manifest = parseManifest(JSON.parse(readFileSync(manifestPath, 'utf8')));
  const dir = join(dirname(manifestPath), dirname(manifest.files[0].path));
  const path = join(dir, 'update-prior.json');
  if (!existsSync(path)) return null;
  const file = v.parse(UpdatePriorSchema, JSON.parse(readFileSync(path, 'utf8')));
  if (file.model !== manifest.version) throw new Error(`${path}: computed for ${file.model}, not ${manifest.version}`);
  const bytes = readFileSync(join(dir, file.fisher.path));
  if (sha256(bytes) !== file.fisher.sha256) throw new Error(`${path}: the Fisher matrix does not match its sha256`);
  const fisher = Float64Array.from(float32sOf(bytes));
  if (fisher.length !== file.dimension * file.dimension) throw new Error(`${path}: the Fisher matrix is not ${file.dimension}²`);
  return { ...file, fisher };
}

/** What the simulation measured for the seed's dataset: share of the central gain by contributors, at the default ε. */
export interface ExpectedGain {
  source: string;
  epsilon: number;
  curve: { contributors: number; share: number }[];
}

/** expected-gain.json beside the seed's root manifest, when the simulation's curve was published. */
export function readExpectedGain(manifestPath: string): ExpectedGain | null {
  const path = join(dirname(manifestPath), 'expected-gain.json');
  if (!existsSync(path)) return null;
  const gain = JSON.parse(readFileSync(path, 'utf8')) as ExpectedGain;
  if (!Array.isArray(gain.curve) || !gain.curve.length) throw new Error(`${path}: no curve`);
  return gain;
}
