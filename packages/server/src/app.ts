import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import { TRAINABLE_TENSORS, epsilonFromRho, updateDimension } from '@vitrine/core/privacy';
import { PRIVACY_FORMAT, SignalFormatError, parseWireBatch as parseBatch, type PrivacyParameters, type WireBatch as SignalBatch } from '@vitrine/core/protocol';
import { mechanism, type ServerConfig } from './config';
import type { Db } from './db/db';
import { runRound, type RoundReport } from './learning/aggregate';
import { ModelRegistry, type StoredModel } from './models/registry';
import { SignalWriter } from './signals/ingest';

export interface VitrineServer {
  app: FastifyInstance;
  db: Db;
  registry: ModelRegistry;
  writer: SignalWriter;
  config: ServerConfig;
  /** Runs one aggregation round now (also what the timer and `npm run aggregate` do). */
  aggregate(): Promise<RoundReport>;
  close(): Promise<void>;
}

const IMMUTABLE = 'public, max-age=31536000, immutable';

export async function createServer(config: ServerConfig, db: Db): Promise<VitrineServer> {
  const registry = new ModelRegistry(db);
  await registry.bootstrap(config.seedModel);
  const writer = new SignalWriter(db);
  const mech = mechanism(config.privacy);
  if (config.privacy.noise === 'none' && !process.env.VITEST && !process.env.VITRINE_SIMULATION) throw new Error('privacy.noise "none" is for simulations only');


  const app = Fastify({
    // Request logs (info level) would hold IP addresses and user agents: only warnings and errors are logged.
    logger: config.logger ? { level: 'warn' } : false,
    bodyLimit: config.bodyLimit,
  });
  await app.register(cors, { origin: '*', methods: ['GET', 'POST'], credentials: false, maxAge: 86_400 });
  await app.register(rateLimit, { global: false });
  // Signals arrive as text/plain (a "simple" request: no CORS preflight) holding JSON.
  app.addContentTypeParser('text/plain', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, JSON.parse(body as string));
    } catch {
      done(Object.assign(new Error('body: not valid JSON'), { statusCode: 400 }), undefined);
    }
  });
  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, _req, reply) => {
    const status = err.statusCode ?? 500;
    if (status === 413 || err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return reply.code(413).send({ error: `body: larger than ${config.bodyLimit} bytes` });
    if (status === 429) return reply.code(429).send({ error: err.message });
    if (status >= 500) app.log.error(err);
    return reply.code(status).send({ error: status >= 500 ? 'internal error' : err.message });
  });

  const privacyParameters = (): PrivacyParameters => {
    const current = registry.getCurrent()!;
    const shadow = registry.getShadow();
    return {
      format: PRIVACY_FORMAT,
      budget: { epsilon: config.privacy.epsilon, delta: config.privacy.delta, windowDays: config.privacy.windowDays },
      update: {
        model: current.version,
        tensors: [...TRAINABLE_TENSORS],
        dimension: updateDimension(current.manifest),
        clipNorm: config.privacy.clipNorm,
        noiseMultiplier: mech.noiseMultiplier,
        localNoiseStd: mech.localNoiseStd,
        rhoPerContribution: mech.rhoPerContribution,
        minHoursBetween: mech.minHoursBetween,
      },
      aggregation: { minCohort: config.privacy.minCohort, trim: config.privacy.trim, kThreshold: config.privacy.kThreshold },
      currentModel: 'models/current',
      shadowModel: shadow ? `models/${shadow.version}/manifest.json` : null,
    };
  };

  app.get('/v1/models/current', async (req, reply) => {
    const current = registry.getCurrent()!;
    const etag = `"${current.version}"`;
    reply.header('etag', etag).header('cache-control', 'no-cache');
    if (req.headers['if-none-match'] === etag) return reply.code(304).send();
    return { ...current.manifest, files: current.manifest.files.map((f) => ({ ...f, path: `${current.version}/${f.path}` })) };
  });

  app.get<{ Params: { version: string; file: string } }>('/v1/models/:version/:file', async (req, reply) => {
    const model = await registry.get(req.params.version);
    if (!model) return reply.code(404).send({ error: `version: no model ${req.params.version}` });
    reply.header('cache-control', IMMUTABLE).header('etag', `"${model.version}/${req.params.file}"`);
    if (req.params.file === 'manifest.json') return model.manifest;
    if (req.params.file === model.manifest.files[0].path) return reply.type('application/octet-stream').send(Buffer.from(model.weights));
    return reply.code(404).send({ error: `file: ${model.version} has no ${req.params.file}` });
  });

  app.get('/v1/privacy', async (_req, reply) => {
    reply.header('cache-control', 'no-cache');
    return privacyParameters();
  });

  app.post('/v1/signals', {
    config: { rateLimit: { max: config.rateLimit.max, timeWindow: config.rateLimit.windowMs } },
  }, async (req: FastifyRequest, reply: FastifyReply) => {
    let batch: SignalBatch;
    try {
      batch = parseBatch(req.body);
      await checkAgainstModels(batch, registry);
    } catch (err) {
      if (err instanceof SignalFormatError) {
        await db.query(`update counters set value = value + 1 where name = 'rejected'`).catch(() => undefined);
        return reply.code(400).send({ error: err.message, field: err.field });
      }
      throw err;
    }
    const result = await writer.write(batch);
    return reply.code(202).send({ batch: batch.id, events: batch.events.length, update: Boolean(batch.update), duplicate: result.duplicate });
  });

  app.get('/v1/stats', async () => {
    const [b] = await db.query<{ batches: string; events: string; updates: string }>(`select count(*) as batches, coalesce(sum(n_events), 0) as events, count(update_vec) as updates from batches`);
    const counters = Object.fromEntries((await db.query<{ name: string; value: string }>('select name, value from counters')).map((r) => [r.name, Number(r.value)]));
    const rounds = await db.query<{ id: number; at: string; status: string; cohort: number; candidate: string | null; report: RoundReport | string }>('select id, at, status, cohort, candidate, report from rounds order by id desc limit 20');
    const promotions = await db.query('select at, shadow, current, decision, report from promotions order by id desc limit 20');
    const current = registry.getCurrent()!;
    return {
      signals: { batches: Number(b.batches), events: Number(b.events), updates: Number(b.updates), duplicatesDropped: counters.duplicates ?? 0, rejected: counters.rejected ?? 0 },
      models: { current: current.version, shadow: registry.getShadow()?.version ?? null, history: await registry.history() },
      rounds: rounds.map((r) => ({ ...r, report: typeof r.report === 'string' ? JSON.parse(r.report) : r.report })),
      promotions,
      budget: {
        epsilon: config.privacy.epsilon, delta: config.privacy.delta, windowDays: config.privacy.windowDays,
        perContribution: { rho: mech.rhoPerContribution, epsilon: epsilonFromRho(mech.rhoPerContribution, config.privacy.delta) },
        noiseMultiplier: mech.noiseMultiplier,
      },
      storage: db.kind,
    };
  });

  app.post('/v1/admin/rounds', async (req, reply) => {
    const auth = req.headers.authorization;
    const allowed = config.adminToken ? auth === `Bearer ${config.adminToken}` : ['127.0.0.1', '::1', '::ffff:127.0.0.1'].includes(req.ip);
    if (!allowed) return reply.code(403).send({ error: 'admin: needs VITRINE_ADMIN_TOKEN as a bearer token (or a loopback request when none is set)' });
    return server.aggregate();
  });

  let timer: ReturnType<typeof setInterval> | undefined;
  let running: Promise<RoundReport> | null = null;
  const server: VitrineServer = {
    app, db, registry, writer, config,
    aggregate() {
      running ??= (async () => {
        try {
          await writer.flush();
          return await runRound(db, registry, config.privacy, config.promotion);
        } finally {
          running = null;
        }
      })();
      return running;
    },
    async close() {
      if (timer) clearInterval(timer);
      await app.close();
      await writer.flush();
      await running?.catch(() => undefined);
      await db.close();
    },
  };
  if (config.roundIntervalMs > 0) {
    timer = setInterval(() => {
      server.aggregate().catch((err) => app.log.error(err));
    }, config.roundIntervalMs);
    timer.unref();
  }
  return server;
}

/** Ids in the published catalog only; an update only against a known version, of its dimension. */
async function checkAgainstModels(batch: SignalBatch, registry: ModelRegistry): Promise<void> {
  const model: StoredModel | null = await registry.get(batch.model);
  if (!model) throw new SignalFormatError(`model: unknown model version "${batch.model}"`, 'model');
  if (batch.shadow && !(await registry.get(batch.shadow))) throw new SignalFormatError(`shadow: unknown model version "${batch.shadow}"`, 'shadow');
  const catalog = catalogOf(model);
  batch.events.forEach((e, i) => {
    if (!catalog.has(e.a)) throw new SignalFormatError(`events.${i}.a: "${e.a}" is not an activity of the published catalog`, `events.${i}.a`);
  });
  if (batch.update && batch.update.g.length !== updateDimension(model.manifest)) {
    throw new SignalFormatError(`update.g: has ${batch.update.g.length} numbers, model ${model.version} needs ${updateDimension(model.manifest)}`, 'update.g');
  }
}

const catalogs = new WeakMap<StoredModel, Set<string>>();
function catalogOf(model: StoredModel): Set<string> {
  let c = catalogs.get(model);
  if (!c) {
    const f = model.manifest.featureSpec.features.find((x) => x.kind === 'categorical' && x.source === 'activity' && x.key === 'id');
    c = new Set(f && 'vocab' in f ? f.vocab : []);
    catalogs.set(model, c);
  }
  return c;
}

