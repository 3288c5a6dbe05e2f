/**
 * `npm run bench:server`: signals acknowledged per second and latency on loopback, with
 * autocannon against `npm run server` in a child process (embedded PGlite in a temporary data
 * directory, then PostgreSQL when one answers at VITRINE_BENCH_DATABASE_URL or the test URL).
 * A "signal" is one event; each request is one batch of 20 events (BENCH_EVENTS), every 4th with a model
 * update (161 numbers), each with a fresh random batch id (no duplicates).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import autocannon from 'autocannon';
import pg from 'pg';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 20);
const DURATION = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const PG_URL =
  process.env.VITRINE_BENCH_DATABASE_URL ??
  process.env.VITRINE_TEST_DATABASE_URL ??
  'postgres://vitrine:vitrine@127.0.0.1:5432/vitrine_test';
const model = JSON.parse(readFileSync('models/coupons/manifest.json', 'utf8')).version as string;
const ids = ['bar-1d', 'bar-2h', 'coffee-house-1d', 'coffee-house-2h', 'restaurant-20-1d'];
const t = 493_212; // a 6-hour bucket

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
  const update =
    n % 4 === 0 ? { g: Array.from({ length: 161 }, (_, j) => Number((Math.sin(n + j) * 0.05).toFixed(5))), n: EVENTS } : undefined;
  return JSON.stringify({ format: 'vitrine-signals@1', id: randomBytes(16).toString('hex'), model, events, ...(update ? { update } : {}) });
}

async function startServer(env: Record<string, string>, port: number): Promise<() => void> {
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', 'packages/server/src/main.ts'], {
    env: { ...process.env, PORT: String(port), VITRINE_RATE_LIMIT: '100000000', VITRINE_ROUND_INTERVAL_MS: '0', VITRINE_LOG: '0', ...env },
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
    const result = await autocannon({
      url,
      method: 'POST',
      connections: CONNECTIONS,
      duration: DURATION,
      headers: { 'content-type': 'text/plain;charset=UTF-8' },
      requests: [{ setupRequest: (r) => ({ ...r, body: body() }) }],
    });
    const ok = result['2xx'];
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
    };
  } finally {
    stop();
  }
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
console.log(JSON.stringify({ events_per_batch: EVENTS, results }));
