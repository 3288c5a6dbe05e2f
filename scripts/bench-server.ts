/**
 * `npm run bench:server`: signals acknowledged per second and latency on loopback, with
 * autocannon against `npm run server` in a child process (embedded PGlite in a temporary data
 * directory, then PostgreSQL when one answers at VITRINE_BENCH_DATABASE_URL or the test URL).
 * A "signal" is one event; each request is one batch of 20 events (BENCH_EVENTS), every 4th with a model
 * update (gradient and curvature sums, 618 numbers each, within the clip norms), each with a fresh
 * random batch id (no duplicates). Then one aggregation round over BENCH_ROUND_CONTRIBUTORS
 * (30,000) contributors, each from its own network, is timed in process.
 *
 * Stats contention: after the measured run (tens of thousands of stored batches), ingest is
 * measured again with BENCH_STATS_LOOPS (4) concurrent GET /v1/stats loops, each sending its next
 * request as soon as the last one answers. /v1/stats is cached (VITRINE_STATS_CACHE_MS) and its
 * rate limit is lifted here, so the figure shows what the cache alone protects.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import autocannon from 'autocannon';
import pg from 'pg';
import { batchFromWire, batchToWire, parseBatch, timeBucket } from '@vitrine/core/protocol';
import { configFromEnv, createServer, openDb } from '@vitrine/server';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 20);
const DURATION = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const STATS_LOOPS = Number(process.env.BENCH_STATS_LOOPS ?? 4);
const PG_URL =
  process.env.VITRINE_BENCH_DATABASE_URL ??
  process.env.VITRINE_TEST_DATABASE_URL ??
  'postgres://vitrine:vitrine@127.0.0.1:5432/vitrine_test';
const seedManifest = JSON.parse(readFileSync('models/coupons/manifest.json', 'utf8'));
const model = seedManifest.version as string;
const prior = JSON.parse(readFileSync(`models/coupons/${model}/update-prior.json`, 'utf8')) as {
  dimension: number;
  clipGradient: number;
  clipCurvature: number;
};
const ids = ['bar-1d', 'bar-2h', 'coffee-house-1d', 'coffee-house-2h', 'restaurant-20-1d'];
const t = timeBucket(Date.now());

/** An update as a device sends it: sparse sums within the clip norms, 6 significant digits. */
function update(n: number) {
  const g = Array.from({ length: prior.dimension }, (_, j) => (j % 9 === n % 9 ? Number((Math.sin(n + j) * 0.5).toPrecision(6)) : 0));
  const h = Array.from({ length: prior.dimension }, (_, j) => (j % 9 === n % 9 ? Number((0.2 + 0.1 * Math.cos(n + j)).toPrecision(6)) : 0));
  const scale = (v: number[], clip: number) => {
    const norm = Math.hypot(...v);
    return norm > clip ? v.map((x) => Number(((x * clip * 0.999) / norm).toPrecision(6))) : v;
  };
  return { g: scale(g, prior.clipGradient), h: scale(h, prior.clipCurvature), n: EVENTS };
}

let n = 0;
function body(): string {
  n += 1;
  const events = Array.from({ length: EVENTS }, (_, i) => ({
    a: ids[(n + i) % ids.length],
    s: i % 4,
    p: 0.9,
    r: (n + i) % 3 === 0 ? 1 : 0,
    t,
  }));
  return JSON.stringify({
    format: 'vitrine-signals@1',
    id: randomBytes(16).toString('hex'),
    model,
    events,
    ...(n % 4 === 0 ? { update: update(n) } : {}),
  });
}

async function startServer(env: Record<string, string>, port: number): Promise<() => void> {
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', 'packages/server/src/main.ts'], {
    // Throughput only: manifests unsigned (a deployed server refuses to start without VITRINE_SIGNING_KEY).
    env: {
      ...process.env,
      PORT: String(port),
      VITRINE_RATE_LIMIT: '100000000',
      VITRINE_STATS_RATE_LIMIT: '100000000',
      VITRINE_ROUND_INTERVAL_MS: '0',
      VITRINE_LOG: '0',
      VITRINE_UNSIGNED_MODELS: '1',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => {
      if (c.toString().includes('vitrine server on')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  return () => child.kill('SIGTERM');
}

async function run(label: string, env: Record<string, string>, port: number) {
  const stop = await startServer(env, port);
  try {
    const url = `http://127.0.0.1:${port}/v1/signals`;
    // Warm-up (JIT, connection pools), then the measured run.
    await autocannon({
      url,
      method: 'POST',
      connections: 8,
      duration: 2,
      headers: { 'content-type': 'text/plain;charset=UTF-8' },
      requests: [{ setupRequest: (r) => ({ ...r, body: body() }) }],
    });
    const result = await ingest(url);
    const ok = result['2xx'];
    const contended = await withStatsLoops(port, url);
    const stats = await (await fetch(`http://127.0.0.1:${port}/v1/stats`)).json();
    return {
      store: label,
      connections: CONNECTIONS,
      seconds: DURATION,
      requests_per_s: ok / DURATION,
      signals_per_s: (ok * EVENTS) / DURATION,
      latency_ms: { p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max },
      non_2xx: result.non2xx,
      errors: result.errors,
      stored_events: stats.signals.events,
      with_stats_loops: contended,
    };
  } finally {
    stop();
  }
}

/** POSTs signal batches for DURATION seconds over CONNECTIONS connections. */
function ingest(url: string) {
  return autocannon({
    url,
    method: 'POST',
    connections: CONNECTIONS,
    duration: DURATION,
    headers: { 'content-type': 'text/plain;charset=UTF-8' },
    requests: [{ setupRequest: (r) => ({ ...r, body: body() }) }],
  });
}

/** Ingest for DURATION seconds while STATS_LOOPS clients read /v1/stats back to back. */
async function withStatsLoops(port: number, url: string) {
  const state = { running: true };
  const answers = { ok: 0, limited: 0, other: 0 };
  const loop = async () => {
    while (state.running) {
      const res = await fetch(`http://127.0.0.1:${port}/v1/stats`);
      await res.arrayBuffer();
      if (res.status === 200) answers.ok += 1;
      else if (res.status === 429) answers.limited += 1;
      else answers.other += 1;
    }
  };
  const loops = Array.from({ length: STATS_LOOPS }, loop);
  const result = await ingest(url);
  state.running = false;
  await Promise.all(loops);
  return {
    stats_loops: STATS_LOOPS,
    requests_per_s: result['2xx'] / DURATION,
    signals_per_s: (result['2xx'] * EVENTS) / DURATION,
    latency_ms: { p50: result.latency.p50, p99: result.latency.p99 },
    stats_answers_per_s: answers.ok / DURATION,
    stats_non_200: answers.limited + answers.other,
  };
}

const results = [];
results.push(await run('embedded PGlite', { VITRINE_DATA_DIR: mkdtempSync(join(tmpdir(), 'vitrine-bench-')) }, 8811));
let pgOk = false;
try {
  const c = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 2000 });
  await c.connect();
  await c.query('drop schema public cascade; create schema public;');
  await c.end();
  pgOk = true;
} catch (err) {
  console.error(`bench:server: PostgreSQL skipped (${(err as Error).message} at ${PG_URL})`);
}
if (pgOk) results.push(await run('PostgreSQL', { DATABASE_URL: PG_URL }, 8812));
console.error('\nstore            | signals/s | requests/s | p50 ms | p99 ms | non-2xx');
for (const r of results)
  console.error(
    [
      r.store.padEnd(16),
      Math.round(r.signals_per_s).toString().padStart(9),
      Math.round(r.requests_per_s).toString().padStart(10),
      String(r.latency_ms.p50).padStart(6),
      String(r.latency_ms.p99).padStart(6),
      r.non_2xx,
    ].join(' | '),
  );
console.error(`\ningest with ${STATS_LOOPS} concurrent /v1/stats loops (cached; rate limit lifted)`);
console.error('store            | requests/s alone | requests/s with loops | p99 ms with loops | stats answers/s');
for (const r of results)
  console.error(
    [
      r.store.padEnd(16),
      Math.round(r.requests_per_s).toString().padStart(16),
      Math.round(r.with_stats_loops.requests_per_s).toString().padStart(21),
      String(r.with_stats_loops.latency_ms.p99).padStart(17),
      Math.round(r.with_stats_loops.stats_answers_per_s),
    ].join(' | '),
  );

/** One round over `contributors` updates, each from its own network, on embedded PGlite. */
async function timeRound(contributors: number) {
  const config = configFromEnv();
  const server = await createServer(
    {
      ...config,
      dataDir: undefined,
      roundIntervalMs: 0,
      logger: false,
      privacy: { ...config.privacy, minCohort: 100, roundSpacingHours: 0 },
      // Round time only: manifests unsigned (configFromEnv asks for a key, which a bench has none of).
      signing: undefined,
    },
    await openDb({ dataDir: mkdtempSync(join(tmpdir(), 'vitrine-bench-round-')) }),
  );
  const writes: Promise<unknown>[] = [];
  for (let i = 0; i < contributors; i++) {
    const batch = parseBatch(JSON.parse(body()));
    const withUpdate = { ...batch, update: batchFromWire({ ...batchToWire(batch), update: update(i) }).update };
    writes.push(server.writer.write({ batch: withUpdate, network: `bench-${i}`, bodyHash: batch.id }));
    if (writes.length >= 2048) await Promise.all(writes.splice(0));
  }
  await Promise.all(writes);
  const started = performance.now();
  const round = await server.aggregate();
  const ms = performance.now() - started;
  await server.close();
  return {
    contributors,
    status: round.status,
    cohort: round.cohort,
    round_ms: Math.round(ms),
    memory_mb: Math.round(process.memoryUsage().rss / 2 ** 20),
  };
}
const round = await timeRound(Number(process.env.BENCH_ROUND_CONTRIBUTORS ?? 30_000));
console.error(
  `\nround over ${round.contributors} contributors (${round.cohort} networks, ${round.status}): ` +
    `${round.round_ms} ms, rss ${round.memory_mb} MB`,
);
console.log(JSON.stringify({ events_per_batch: EVENTS, results, round }));
