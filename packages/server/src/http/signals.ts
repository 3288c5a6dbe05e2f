/** Owns the signals resource: POST /v1/signals (schema, registry and policy-version checks, group commit, 202 after COMMIT). */
import type { FastifyInstance } from 'fastify';
import { createHash } from 'node:crypto';
import { SignalFormatError, batchToWire, parseBatch, type SignalBatch } from '@vitrine/core/protocol';
import { networkKey } from '../ingest/network';
import { checkAgainstRegistry, checkSegmentReport } from '../ingest/validate';
import type { SignalWriter } from '../ingest/writer';
import type { ModelRegistry } from '../registry/registry';
import { countRejected } from '../store/counters';
import type { Db } from '../store/db';
import { HttpError } from './errors';

export function registerSignalRoutes(
  app: FastifyInstance,
  deps: {
    db: Db;
    registry: ModelRegistry;
    writer: SignalWriter;
    rateLimit: { max: number; windowMs: number };
    networkSecret: string;
    now: () => number;
    /** What a segment report naming a policy version is checked against (policy/service.ts). */
    segmentReports: (version: string) => Promise<{ categories: number } | null>;
  },
): void {
  const { db, registry, writer, rateLimit, networkSecret, now } = deps;
  app.post('/v1/signals', { config: { rateLimit: { max: rateLimit.max, timeWindow: rateLimit.windowMs } } }, async (req, reply) => {
    let batch: SignalBatch;
    try {
      batch = parseBatch(req.body);
      await checkAgainstRegistry(batch, registry, now());
      await checkSegmentReport(batch, deps.segmentReports);
    } catch (err) {
      if (err instanceof SignalFormatError) {
        await countRejected(db).catch(() => undefined);
        throw new HttpError(400, err.message, err.field);
      }
      throw err;
    }
    const bodyHash = createHash('sha256')
      .update(JSON.stringify(batchToWire(batch)))
      .digest('hex');
    const result = await writer.write({ batch, network: networkKey(networkSecret, req.ip), bodyHash });
    if (result.conflict) throw new HttpError(409, `id: batch ${batch.id} was received before with different content`, 'id');
    const body = { batch: batch.id, events: batch.events.length, update: Boolean(batch.update), duplicate: result.duplicate };
    return reply.code(202).send(body);
  });
}
