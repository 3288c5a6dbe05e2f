/** Owns reading the trained artifact from disk for bootstrap: manifest, sha256/size check, its float32 twin. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { dequantize, parseManifest, type ModelManifest } from '@vitrine/core/artifact';
import { exactBuffer } from '@vitrine/core/bytes';
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
