/** Owns assembling the server: Fastify and its plugins, the stages wired together, the round timer, start and close. */
import { randomBytes } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { serverSecret } from '../store/learning';
import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { DEFAULT_POLICY_SERVING, DEFAULT_STATS, MIN_ADMIN_TOKEN_LENGTH, type ServerConfig, type TrustProxy } from '../config';
import { mechanism } from '../mechanism';
import { catalogOf } from '../ingest/validate';
import { PolicyService } from '../policy/service';
import { parsePolicy, PolicyError } from '../policy/validate';
import { buildReport } from '../report/report';
import { SignalWriter } from '../ingest/writer';
import { ModelRegistry } from '../registry/registry';
import { readExpectedGain } from '../registry/seed';
import { runRound, type RoundReport } from '../rounds/round';
import type { Db } from '../store/db';
import { refuseAdminPreflights } from './admin-auth';
import { registerAdminRoundRoutes } from './admin-rounds';
import { registerAdminModelRoutes } from './admin-models';
import { registerAdminPolicyRoutes } from './admin-policy';
import { registerAdminReportRoutes } from './admin-report';
import { registerDashboardRoutes } from '../dashboard/routes';
import { HttpError, installErrorHandler } from './errors';
import { registerModelRoutes } from './models';
import { registerPolicyRoutes } from './policy';
import { registerPrivacyRoutes } from './privacy';
import { registerSignalRoutes } from './signals';
import { registerStatsRoutes } from './stats';

export interface VitrineServer {
  app: FastifyInstance;
  db: Db;
  registry: ModelRegistry;
  writer: SignalWriter;
  policies: PolicyService;
  config: ServerConfig;
  /** Runs one aggregation round now (also what the timer and `npm run aggregate` do). */
  aggregate(): Promise<RoundReport>;
  close(): Promise<void>;
}

export async function createServer(config: ServerConfig, db: Db): Promise<VitrineServer> {
  if (config.privacy.noise === 'none' && !config.allowNoiseOff) {
    throw new Error('privacy.noise "none" is for simulations only (it needs allowNoiseOff in the server config)');
  }
  const registry = new ModelRegistry(db, config.signing);
  await registry.bootstrap(config.seedModel);
  const writer = new SignalWriter(db);
  const mech = mechanism(config.privacy);
  const now = config.now ?? Date.now;
  const policyServing = config.policy ?? DEFAULT_POLICY_SERVING;
  const policies = new PolicyService({
    db,
    mech,
    kThreshold: config.privacy.kThreshold,
    cacheMs: policyServing.cacheMs,
    pacingIntervalMs: policyServing.pacingIntervalMs,
    now,
  });
  if (config.policyFile) await seedPolicy(policies, config.policyFile);

  // One round at a time: a second call while one runs gets the same report.
  let running: Promise<RoundReport> | null = null;
  const aggregate = (): Promise<RoundReport> => {
    running ??= (async () => {
      try {
        await writer.flush();
        return await runRound(db, registry, config.privacy, config.promotion);
      } finally {
        running = null;
        stats.invalidate(); // the next GET /v1/stats shows this round
        report.invalidate();
      }
    })();
    return running;
  };

  if (config.adminToken !== undefined && config.adminToken.length < MIN_ADMIN_TOKEN_LENGTH) {
    throw new Error(`VITRINE_ADMIN_TOKEN must be at least ${MIN_ADMIN_TOKEN_LENGTH} characters (e.g. openssl rand -base64 32)`);
  }
  const app = Fastify({
    // Request logs (info level) would hold IP addresses and user agents: only warnings and errors are logged.
    logger: config.logger ? { level: 'warn', ...(config.logStream ? { stream: config.logStream } : {}) } : false,
    bodyLimit: config.bodyLimit,
    trustProxy: fastifyTrustProxy(config.trustProxy),
    // Malformed URLs (bad percent-encoding, over-long parameters) get a generic 400: no echo of the path, no log line.
    frameworkErrors: (err, _req, reply) => {
      const status = (err as { statusCode?: number }).statusCode ?? 400;
      (reply as FastifyReply).code(status >= 400 && status < 500 ? status : 400).send({ error: 'bad request' });
    },
  });
  // Retry-After must be readable cross-origin, or browsers' clients retry blind exactly when the server is overloaded.
  await app.register(cors, {
    origin: '*',
    methods: ['GET', 'POST'],
    credentials: false,
    maxAge: 86_400,
    exposedHeaders: ['Retry-After'],
  });
  await app.register(rateLimit, { global: false });
  // Signals arrive as text/plain (a "simple" request: no CORS preflight) holding JSON.
  app.addContentTypeParser('text/plain', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, JSON.parse(body as string));
    } catch {
      done(new HttpError(400, 'body: not valid JSON'), undefined);
    }
  });
  installErrorHandler(app, config.bodyLimit);
  if (mech.segmentRefusal) app.log.warn(mech.segmentRefusal);

  const expectedGain = readExpectedGain(config.seedModel);
  const segmentEpsilon = async () => (await policies.served()).segmentEpsilon;
  registerModelRoutes(app, registry);
  registerPolicyRoutes(app, { policies, maxAgeS: Math.max(1, Math.round(policyServing.cacheMs / 1000)), rateLimit: config.rateLimit });
  registerPrivacyRoutes(app, { db, registry, privacy: config.privacy, mech, expectedGain, segmentEpsilon });
  const networkSecret = await serverSecret(db, 'network-key', () => randomBytes(32).toString('hex'));
  registerSignalRoutes(app, {
    db,
    registry,
    writer,
    rateLimit: config.rateLimit,
    networkSecret,
    now,
    segmentReports: (version) => policies.reportDefinition(version),
  });
  const statsConfig = config.stats ?? DEFAULT_STATS;
  const stats = registerStatsRoutes(app, {
    db,
    registry,
    privacy: config.privacy,
    mech,
    ...statsConfig,
    segmentReports: async () => (await segmentEpsilon()) !== null,
  });
  registerAdminRoundRoutes(app, { adminToken: config.adminToken, aggregate });
  registerAdminModelRoutes(app, { adminToken: config.adminToken, registry });
  registerAdminPolicyRoutes(app, {
    adminToken: config.adminToken,
    policies,
    segmentRefusal: mech.segmentRefusal,
    catalog: () => {
      const current = registry.getCurrent();
      return current ? catalogOf(current) : new Set();
    },
  });
  const report = registerAdminReportRoutes(app, {
    adminToken: config.adminToken,
    cacheMs: statsConfig.cacheMs,
    build: () => buildReport({ db, registry, privacy: config.privacy, mech, policies, expectedGain, now }),
  });
  registerDashboardRoutes(app, { adminToken: config.adminToken });
  refuseAdminPreflights(app);

  let timer: ReturnType<typeof setInterval> | undefined;
  const server: VitrineServer = {
    app,
    db,
    registry,
    writer,
    policies,
    config,
    aggregate,
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
      aggregate().catch((err) => app.log.error(err));
    }, config.roundIntervalMs);
    timer.unref();
  }
  return server;
}

/** VITRINE_POLICY_FILE: stored as the merchant's policy when the store has none; a bad file stops the start with the field named. */
async function seedPolicy(policies: PolicyService, path: string): Promise<void> {
  let policy;
  try {
    policy = parsePolicy(JSON.parse(readFileSync(path, 'utf8')));
  } catch (err) {
    const why = err instanceof PolicyError ? err.message : (err as Error).message;
    throw new Error(`VITRINE_POLICY_FILE ${path}: ${why}`, { cause: err });
  }
  await policies.seed(policy, `file:${basename(path)}`);
}

/**
 * Fastify's trustProxy from ours. A hop count becomes proxy-addr's own hop rule (Fastify 5 maps a
 * bare number to "trust nothing", because hops alone cannot tell a proxy from a client that
 * reached the server directly: the documentation says to use a count only when nothing can).
 */
function fastifyTrustProxy(trust: TrustProxy): boolean | string[] | ((address: string, hop: number) => boolean) {
  if (typeof trust === 'number') return trust > 0 ? (_address, hop) => hop < trust : false;
  return trust;
}
