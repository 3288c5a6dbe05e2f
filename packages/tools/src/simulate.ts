/**
 * `npm run simulate -- --data <coupons-train.csv> [--holdout <csv>] [--population real,300,3000]
 *   [--epsilon 8,none] [--splits 10] [--seeds 3] [--rounds 3] [--json]`
 *
 * The private learning loop end to end, at a shop's population, on real respondents. Per split
 * (respondent folds): one fold (or --holdout) is the held-out evaluation; of the rest, 30% of
 * respondents train the seed model (and its update prior: clip norms and Fisher), the others are
 * contributors. The central reference is trained on seed + contributors' raw rows.
 * Per seed × population × ε: N shoppers are bootstrapped from whole contributor histories;
 * contributors run the SDK's real code (createVitrine, rank, track, the signals stage, its
 * accountant and ledger) against a real Vitrine server (Fastify routes through inject, PGlite in
 * memory, the real DP rounds and promotion), each from its own network address. A shopper drawn
 * m times is m shoppers with identical histories: their devices would compute bit-identical
 * bodies, so the SDK runs once and the server receives m copies, each with its own batch id
 * and network (test: simulate.test.ts). The seed prior's weight is scaled by N / contributors,
 * so the target stays the central model's information (the real contributors, not N copies).
 * Last line (JSON): {"seed_auc", "central_auc", "eval", "runs": [...]}.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { quantizeMlp } from '@vitrine/core/artifact';
import type { FeatureSpec } from '@vitrine/core/features';
import { parseBatch } from '@vitrine/core/protocol';
import { seededRandom } from '@vitrine/core/random';
import {
  DEFAULT_MLP,
  auc,
  buildExamples,
  fitEnsemble,
  loadCoupons,
  predictMlp,
  respondentFolds,
  seedUpdatePrior,
  writeArtifact,
  type CouponRow,
  type MlpWeights,
} from '@vitrine/models/training';
import { DEFAULT_RETENTION, MemoryOutbox, MemoryProfileStore, SIMULATION_PRIVACY_FLOORS, createVitrine } from '@vitrine/sdk/internals';
import {
  DEFAULT_PRIVACY,
  createServer,
  decodeWeights,
  mechanism,
  openDb,
  toMlp,
  type ServerConfig,
  type StoredModel,
  type VitrineServer,
} from '@vitrine/server';

const { values: args } = parseArgs({
  options: {
    data: { type: 'string' },
    holdout: { type: 'string' },
    population: { type: 'string', default: 'real,300,3000' },
    epsilon: { type: 'string', default: '8,none' },
    splits: { type: 'string', default: '10' },
    seeds: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '3' },
    'seed-share': { type: 'string', default: '0.3' },
    ensemble: { type: 'string', default: '3' },
    'min-cohort': { type: 'string', default: '100' },
    workers: { type: 'string', default: '2' },
    'only-split': { type: 'string' },
    /** PostgreSQL for the server's store (reset per run): large populations outgrow embedded PGlite. */
    'database-url': { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
const fail = (m: string): never => {
  console.error(`simulate: ${m}`);
  process.exit(2);
};
if (!args.data) fail('--data <coupons-train.csv> is required');
const R = Number(args.rounds);
if (!(Number.isInteger(R) && R >= 1 && R <= 12)) fail('--rounds must be 1..12');
const K = Number(args.splits);
if (!(Number.isInteger(K) && K >= 2 && K <= 50)) fail('--splits must be 2..50');
const S = Number(args.seeds);
if (!(Number.isInteger(S) && S >= 1 && S <= 20)) fail('--seeds must be 1..20');
const epsilons = args.epsilon!.split(',').map((e) => e.trim());
if (epsilons.some((e) => e !== 'none' && !(Number(e) > 0))) fail('--epsilon: positive numbers or "none"');
const populations = args.population!.split(',').map((p) => p.trim());
if (populations.some((p) => p !== 'real' && !(Number.isInteger(Number(p)) && Number(p) >= 2 && Number(p) <= 1_000_000)))
  fail('--population: "real" or integers 2..1,000,000');
const seedShare = Number(args['seed-share']);
const log = (s: string) => console.error(s);

let rows: CouponRow[] = [];
let holdout: CouponRow[] | null = null;
try {
  rows = loadCoupons(args.data!);
  if (args.holdout) holdout = loadCoupons(args.holdout);
} catch (err) {
  fail((err as Error).message);
}
const count = (rs: CouponRow[]) => new Set(rs.map((r) => r.respondent)).size;
const groupBy = (rs: CouponRow[]) => {
  const m = new Map<string, CouponRow[]>();
  for (const r of rs) m.set(r.respondent, [...(m.get(r.respondent) ?? []), r]);
  return m;
};
const cfg = { ...DEFAULT_MLP };
const fit = (train: CouponRow[], seed: number) =>
  fitEnsemble(train, { cfg: { ...cfg, seed }, members: Number(args.ensemble), crosses: true, profile: true, minCount: 5 });

/** The SDK's fetch, routed into the server in process: each shopper's host names its network address. */
let active: VitrineServer | null = null;
/** Bodies the SDK posted to /v1/signals and the server accepted, during the current visit. */
const lastBodies: string[] = [];
const addressOf = (host: string) => {
  const i = Number(/^s(\d+)\./.exec(host)?.[1] ?? 0);
  // A /24 of its own for every shopper (network keys group by /24).
  return `${10 + ((i >> 16) & 127)}.${(i >> 8) & 255}.${i & 255}.1`;
};
globalThis.fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
  const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
  const res = await active!.app.inject({
    method: (init?.method ?? 'GET') as 'GET' | 'POST',
    url: url.pathname + url.search,
    headers: Object.fromEntries(new Headers(init?.headers).entries()),
    payload: init?.body as string | undefined,
    remoteAddress: addressOf(url.hostname),
  });
  if (init?.method === 'POST' && url.pathname === '/v1/signals' && res.statusCode === 202) lastBodies.push(init.body as string);
  return new Response(res.statusCode === 204 || res.statusCode === 304 ? null : new Uint8Array(res.rawPayload), {
    status: res.statusCode,
    headers: res.headers as Record<string, string>,
  });
}) as typeof fetch;

interface Run {
  population: string;
  epsilon: string;
  split: number;
  seed: number;
  auc: number;
  share: number;
  rounds_published: number;
  promotions: { before: number; after: number }[];
}
const started = Date.now();
/** Shoppers (with their copies) who visit in the evidence-only round: 60 × ~7 events clear the gate's 100 events from 20 networks. */
const EVIDENCE_SHOPPERS = 60;

async function runSplit(split: number): Promise<{ info: SplitInfo; runs: Run[] }> {
  const runs: Run[] = [];
  const fold = respondentFolds(rows, K, seededRandom(1000 + split));
  const evalRows = holdout ?? rows.filter((_, i) => fold[i] === 0);
  const rest = holdout ? rows : rows.filter((_, i) => fold[i] !== 0);
  const pick = seededRandom(7 + split);
  const seedIds = new Set([...groupBy(rest).keys()].filter(() => pick() < seedShare));
  const seedRows = rest.filter((r) => seedIds.has(r.respondent));
  const contributors = [...groupBy(rest.filter((r) => !seedIds.has(r.respondent))).values()];
  const seedModel = await fit(seedRows, split);
  const q = quantizeMlp(seedModel.weights, 'uint8-per-channel');
  const seedDir = mkdtempSync(join(tmpdir(), 'vitrine-sim-'));
  writeArtifact(seedDir, {
    name: 'coupons',
    spec: seedModel.spec,
    weights: seedModel.weights,
    tensors: q.tensors,
    float32Tensors: quantizeMlp(seedModel.weights, 'float32').tensors,
    scheme: 'uint8-per-channel',
    training: { method: 'simulation seed', respondents: seedIds.size },
    metrics: {},
    updatePrior: seedUpdatePrior(seedRows, seedModel.spec, q.dequantized, R),
  });
  const evaluate = (spec: FeatureSpec, weights: MlpWeights) => {
    const te = buildExamples(evalRows, spec); // the SDK's own encoder and profile replay
    return auc(predictMlp(weights, te.x, te.n), te.y);
  };
  const seedAuc = evaluate(seedModel.spec, q.dequantized);
  const central = await fit(rest, split);
  const centralAuc = evaluate(central.spec, quantizeMlp(central.weights, 'uint8-per-channel').dequantized);
  const info = { seed_auc: seedAuc, central_auc: centralAuc, respondents: count(evalRows), rows: evalRows.length };
  log(
    `simulate: split ${split + 1}/${K}: ${seedIds.size} seed respondents, ${contributors.length} contributors, ` +
      `${count(evalRows)} held out; ` +
      `seed AUC ${seedAuc.toFixed(4)}, central ${centralAuc.toFixed(4)}`,
  );
  const modelAuc = (m: StoredModel) => evaluate(m.manifest.featureSpec, toMlp(m, decodeWeights(m)));

  for (let seed = 0; seed < S; seed++)
    for (const pop of populations)
      for (const eps of epsilons) {
        const n = contributors.length;
        const N = pop === 'real' ? n : Number(pop);
        const draw = seededRandom(31 * split + 7 * seed + 3);
        const copies = new Array<number>(n).fill(pop === 'real' ? 1 : 0);
        if (pop !== 'real') for (let k = 0; k < N; k++) copies[Math.floor(draw() * n)] += 1;
        const privacy = {
          ...DEFAULT_PRIVACY,
          epsilon: eps === 'none' ? 8 : Number(eps),
          noise: eps === 'none' ? ('none' as const) : ('gaussian' as const),
          contributionsPerWindow: R,
          minCohort: Math.min(Number(args['min-cohort']), Math.floor(N / 2)),
          priorWeight: N / n,
          // The simulated clock spaces rounds; the server's own spacing check uses the real one.
          roundSpacingHours: 0,
        };
        const config: ServerConfig = {
          port: 0,
          host: '127.0.0.1',
          seedModel: join(seedDir, 'manifest.json'),
          privacy,
          // One candidate per decision (the survey asked about one offer at a time): shadow and
          // current coincide on every logged event, so promotion here needs evidence count only.
          promotion: { minEvents: 100, margin: 0.005, minNetworks: 20 },
          roundIntervalMs: 0,
          rateLimit: { max: 1e9, windowMs: 60_000 },
          bodyLimit: 64 * 1024,
          trustProxy: false,
          logger: false,
          allowNoiseOff: true,
          now: () => clock,
        };
        let clock = Date.now();
        // Large populations store on disk: tens of thousands of update rows per round outgrow PGlite's in-memory store.
        const databaseUrl = args['database-url'];
        if (databaseUrl) await resetSchema(databaseUrl);
        const dataDir = !databaseUrl && N >= 10_000 ? mkdtempSync(join(tmpdir(), 'vitrine-sim-db-')) : undefined;
        const server = await createServer(config, await openDb(databaseUrl ? { databaseUrl } : { dataDir }));
        active = server;
        const shoppers = contributors.map((rs, i) => ({
          index: i,
          rows: rs,
          profile: new MemoryProfileStore(DEFAULT_RETENTION, () => clock),
          outbox: new MemoryOutbox(),
        }));
        let published = 0;
        const promotions: Run['promotions'] = [];
        let spentMax = 0;
        for (let round = 1; round <= R + 1; round++) {
          const before = modelAuc(server.registry.getCurrent()!);
          let nextCopy = n;
          const pendingCopies: Promise<unknown>[] = [];
          for (const s of shoppers) {
            if (!copies[s.index]) continue;
            // The evidence-only visit needs only enough shoppers for the promotion gate's minimum.
            if (round > R && s.index >= EVIDENCE_SHOPPERS) continue;
            const chunk = s.rows.filter((_, i) => Math.floor((i * R) / s.rows.length) === Math.min(round, R) - 1);
            const host = `http://s${s.index}.shop.test`;
            lastBodies.length = 0;
            const vitrine = await createVitrine(
              {
                model: `${host}/v1/models/current`,
                endpoint: `${host}/v1`,
                consent: 'signals',
                // The simulation measures learning: every page view ranks with Vitrine (no A/B holdout).
                holdout: false,
                backend: 'cpu',
                storage: 'memory',
                user: chunk[0]?.user,
                now: () => clock,
                random: seededRandom(s.index + 1000 * round),
                // Budgets and small cohorts are swept on purpose: the device floors are lifted.
                privacyFloors: SIMULATION_PRIVACY_FLOORS,
              },
              { profileStore: s.profile, outbox: s.outbox, flushDelayMs: 3_600_000 },
            );
            if (vitrine.status.degraded) fail(`SDK degraded: ${vitrine.status.degraded}`);
            for (const row of chunk) {
              const d = await vitrine.rank([row.activity], { context: row.context });
              await vitrine.track(d.id, row.activity.id, row.outcome);
            }
            await vitrine.flush();
            const report = await vitrine.privacyReport();
            if (report.consent === 'signals' && report.spent) spentMax = Math.max(spentMax, report.spent.epsilon);
            vitrine.close();
            // The shopper's copies: the bodies the server accepted from this shopper (validated by
            // the real route above), stored again from their own networks under their own batch
            // ids, through the server's writer (the same group commit as the route).
            const parsed = lastBodies.splice(0).map((b) => parseBatch(JSON.parse(b)));
            for (let c = 1; c < copies[s.index]; c++) {
              const network = `copy-${nextCopy++}`;
              for (const b of parsed) {
                const id = randomId(draw);
                // A handler now, so a failed write is reported where it happened (not as an unhandled rejection).
                const write = server.writer.write({ batch: { ...b, id }, network, bodyHash: id });
                write.catch((err) => log(`simulate: copy not stored: ${err instanceof Error ? err.stack : JSON.stringify(err)}`));
                pendingCopies.push(write);
              }
            }
            if (pendingCopies.length > 4096) await Promise.all(pendingCopies.splice(0));
          }
          await Promise.all(pendingCopies);
          const report = await server.aggregate();
          if (report.status === 'published-shadow') published += 1;
          if (report.promotion?.decision === 'promoted') promotions.push({ before, after: modelAuc(server.registry.getCurrent()!) });
          log(
            `  split ${split + 1} seed ${seed} N=${pop} ε=${eps} round ${round}${round > R ? ' (evidence only)' : ''}: ` +
              `${report.status}, cohort ${report.cohort}, σ_g ${report.sigmaGradient.toFixed(1)}, step ${report.stepNorm.toFixed(3)}, ` +
              `promotion ${report.promotion?.decision ?? '-'}; current AUC ${modelAuc(server.registry.getCurrent()!).toFixed(4)}`,
          );
          // Rounds are as far apart as the published contribution spacing.
          clock += mechanism(privacy).minHoursBetween * 3_600_000;
        }
        const final = modelAuc(server.registry.getCurrent()!);
        if (spentMax > privacy.epsilon + 1e-9 && eps !== 'none') fail(`a shopper's accountant spent ε ${spentMax} > ${privacy.epsilon}`);
        runs.push({
          population: pop,
          epsilon: eps,
          split,
          seed,
          auc: final,
          share: (final - seedAuc) / (centralAuc - seedAuc),
          rounds_published: published,
          promotions,
        });
        await server.close();
        if (dataDir) rmSync(dataDir, { recursive: true, force: true });
        active = null;
      }
  return { info, runs };
}

interface SplitInfo {
  seed_auc: number;
  central_auc: number;
  respondents: number;
  rows: number;
}

/** Each split in its own process (`--only-split k`), `--workers` at a time: the machine has cores to spare. */
async function runAll(): Promise<{ info: SplitInfo; runs: Run[] }[]> {
  const results: { info: SplitInfo; runs: Run[] }[] = [];
  const workers = Math.max(1, Math.min(Number(args.workers) || 1, K));
  if (workers === 1) {
    for (let k = 0; k < K; k++) results.push(await runSplit(k));
    return results;
  }
  let next = 0;
  const own = process.argv.slice(2).filter((a, i, all) => a !== '--json' && all[i - 1] !== '--workers' && a !== '--workers');
  const worker = async () => {
    while (next < K) {
      const k = next++;
      const child = spawn(process.execPath, [...process.execArgv, process.argv[1], ...own, '--only-split', String(k), '--json'], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      const code = await new Promise<number | null>((r) => child.on('close', r));
      if (code !== 0) fail(`split ${k} failed (exit ${code})`);
      results.push(JSON.parse(out.trim().split('\n').at(-1)!));
    }
  };
  await Promise.all(Array.from({ length: workers }, worker));
  return results.sort((a, b) => (a.runs[0]?.split ?? 0) - (b.runs[0]?.split ?? 0));
}

if (args['only-split'] !== undefined) {
  console.log(JSON.stringify(await runSplit(Number(args['only-split']))));
  process.exit(0);
}
const results = await runAll();
const splitInfo = results.map((r) => r.info);
const runs = results.flatMap((r) => r.runs);

/** Empties a PostgreSQL database the simulation owns (--database-url), so each run starts from the migrations. */
async function resetSchema(url: string): Promise<void> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query('drop schema public cascade; create schema public;');
  await client.end();
}

function randomId(random: () => number): string {
  return Array.from({ length: 32 }, () => Math.floor(random() * 16).toString(16)).join('');
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const summary = [];
for (const pop of populations)
  for (const eps of epsilons) {
    const own = runs.filter((r) => r.population === pop && r.epsilon === eps);
    const perSplit = [...new Set(own.map((r) => r.split))].map((k) => mean(own.filter((r) => r.split === k).map((r) => r.share)));
    const m = mean(perSplit);
    const sd = Math.sqrt(perSplit.reduce((a, x) => a + (x - m) ** 2, 0) / Math.max(1, perSplit.length - 1));
    const half = tQuantile975(perSplit.length - 1) * (sd / Math.sqrt(perSplit.length));
    const promotions = own.flatMap((r) => r.promotions);
    summary.push({
      population: pop,
      epsilon: eps,
      share_mean: m,
      share_ci: [m - half, m + half],
      auc_mean: mean(own.map((r) => r.auc)),
      seed_auc_mean: mean(splitInfo.map((s) => s.seed_auc)),
      rounds_published: mean(own.map((r) => r.rounds_published)),
      promotions: promotions.length,
      promotions_worse: promotions.filter((p) => p.after < p.before).length,
      promotion_auc: promotions.map((p) => [Number(p.before.toFixed(4)), Number(p.after.toFixed(4))]),
    });
  }

log(`\nsimulate: ${K} splits × ${S} seeds, ${R} rounds, ${((Date.now() - started) / 60_000).toFixed(1)} min`);
log('population |    ε | share of central gain (95% CI)  | mean AUC | rounds | promotions (worse)');
for (const s of summary)
  log(
    `${s.population.padStart(10)} | ${s.epsilon.padStart(4)} | ${(100 * s.share_mean).toFixed(1).padStart(6)}% ` +
      `[${(100 * s.share_ci[0]).toFixed(1)}, ${(100 * s.share_ci[1]).toFixed(1)}]`.padEnd(20) +
      ` | ${s.auc_mean.toFixed(4)}   | ${s.rounds_published.toFixed(1).padStart(6)} | ${s.promotions} (${s.promotions_worse})`,
  );
const out = {
  seed_auc: mean(splitInfo.map((s) => s.seed_auc)),
  central_auc: mean(splitInfo.map((s) => s.central_auc)),
  eval: { respondents: mean(splitInfo.map((s) => s.respondents)), rows: mean(splitInfo.map((s) => s.rows)) },
  splits: splitInfo,
  runs: summary,
};
console.log(args.json ? JSON.stringify(out) : JSON.stringify(out, null, 1));

/** Two-sided 95% Student t quantile for `df` degrees of freedom. */
function tQuantile975(df: number): number {
  const table = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131];
  if (df < 1) return Infinity;
  return df <= table.length ? table[df - 1] : 1.96 + 2.4 / df;
}
