/** The checks a pinned `modelKey` adds: signature, signed role, version label and rollback floor (see loader.ts checkTrust). */
import { verifyManifestSignature, weightsDigest, type PinnedKey, type PublicationRole } from '@vitrine/core/artifact';
import { VitrineError } from '../errors';
import type { ModelIntegrity } from '../types';
import type { Floor, Received } from './loader';

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
