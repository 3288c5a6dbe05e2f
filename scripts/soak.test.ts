/**
 * Soak (loopback only, bounded): the real server (`packages/server/src/main.ts` in a child process)
 * on embedded PGlite and on PostgreSQL, fed by simulated devices (plain fetch, valid batches,
 * ~200 batches/s at most) and by real Chromium tabs running the built SDK with consent; the server
 * is SIGKILLed and restarted twice during the run. At the end every batch the server acknowledged
 * is stored exactly once, the clients' retries got every other batch in too (nothing more, nothing
 * less is stored), and the server's RSS within its last life stays flat.
 *
 * About 70 s of load per store (SOAK_SECONDS), 80 s in all. Needs the built SDK (`npm run build`, which `npm test` runs
 * first) and Chromium (`scripts/ensure-chromium.ts`). The PostgreSQL half is skipped with a
 * message when nothing answers at VITRINE_TEST_DATABASE_URL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from '@playwright/test';
import { describe, expect, it } from 'vitest';
import { openDb } from '@vitrine/server';
import { SEED_VERSION, deviceUpdate, nowBucket, postgresReachable, resetPostgresSchema, TEST_PG_URL } from '@vitrine/server/testing';
import { chromiumPath } from './ensure-chromium';
import { startStaticServer } from './serve';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SECONDS = Number(process.env.SOAK_SECONDS ?? 70);
const DEVICES = 20; // concurrent simulated devices
const PAUSE_MS = 100; // each device pauses this long between batches: at most ~200 batches/s in all
const TABS = 3;
const CATALOG = ['bar-1d', 'bar-2h', 'coffee-house-1d', 'coffee-house-2h', 'restaurant-20-1d'];
const TYPES: Record<string, string> = { bar: 'Bar', 'coffee-house': 'Coffee House', 'restaurant-20': 'Restaurant(20-50)' };
const ACTIVITIES = CATALOG.map((id) => {
  const [, kind, e] = /^(.*)-(\w+)$/.exec(id)!;
  return { id, type: TYPES[kind], features: { expiration: e } };
});

const pgAvailable = await postgresReachable();
const sdkBuilt = existsSync(join(ROOT, 'packages/sdk/dist/vitrine.min.js'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => (port === 4173 || port === 8790 ? freePort().then(resolve, reject) : resolve(port)));
    });
  });
}

/** The server as `npm run server` runs it; resolves once it listens. */
async function spawnServer(env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', 'packages/server/src/main.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      VITRINE_LOG: '0',
      VITRINE_ROUND_INTERVAL_MS: '0',
      VITRINE_RATE_LIMIT: '100000000', // every device is 127.0.0.1 here
      VITRINE_STATS_RATE_LIMIT: '100000000',
      VITRINE_UNSIGNED_MODELS: '1', // as bench:server: these tabs pin no model key
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in 60 s: ${stderr}`)), 60_000);
    child.stdout!.on('data', (c: Buffer) => {
      if (c.toString().includes('vitrine server on')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code ?? signal}) before listening: ${stderr}`));
    });
  });
  return child;
}

const rssMb = (pid: number) => {
  try {
    const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Number(kb) / 1024 : null;
  } catch {
    return null;
  }
};

function deviceBatch(k: number): { id: string; body: string; events: number } {
  const events = Array.from({ length: 1 + (k % 12) }, (_, i) => ({
    a: CATALOG[(k + i) % CATALOG.length],
    s: i % 4,
    p: 0.9,
    r: (k + i) % 3 === 0 ? 1 : 0,
    t: nowBucket(),
  }));
  const id = randomBytes(16).toString('hex');
  const batch = {
    format: 'vitrine-signals@1',
    id,
    model: SEED_VERSION,
    events,
    ...(k % 4 === 0 ? { update: deviceUpdate((j) => Math.sin(k + j), 0.5, events.length) } : {}),
  };
  return { id, body: JSON.stringify(batch), events: events.length };
}

const stores: [
  string,
  () => Promise<{ env: Record<string, string>; query: (sql: string, params: unknown[]) => Promise<Record<string, unknown>[]> }>,
][] = [
  [
    'embedded PGlite',
    async () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'vitrine-soak-'));
      return {
        env: { VITRINE_DATA_DIR: dataDir },
        // The data directory has one writer: read it once the server is stopped.
        query: async (sql, params) => {
          const db = await openDb({ dataDir });
          try {
            return await db.query(sql, params);
          } finally {
            await db.close();
          }
        },
      };
    },
  ],
  [
    'PostgreSQL',
    async () => {
      const url = await resetPostgresSchema('soak');
      return {
        env: { DATABASE_URL: url },
        query: async (sql, params) => {
          const db = await openDb({ databaseUrl: url });
          try {
            return await db.query(sql, params);
          } finally {
            await db.close();
          }
        },
      };
    },
  ],
];

describe.each(stores)('soak on %s', (name, store) => {
  const skip = name === 'PostgreSQL' && !pgAvailable;
  if (skip) console.warn(`PostgreSQL soak skipped: nothing answers at ${TEST_PG_URL} (set VITRINE_TEST_DATABASE_URL)`);

  it.skipIf(skip)(
    'devices and browser tabs through two SIGKILL restarts: every acknowledged batch stored once, memory flat',
    { timeout: (SECONDS + 120) * 1000 },
    async () => {
      expect(sdkBuilt, 'the soak test loads the built SDK: run `npm run build` first').toBe(true);
      const { env, query } = await store();
      const port = await freePort();
      const base = `http://127.0.0.1:${port}`;
      const serverEnv = { ...env, PORT: String(port) };
      let child = await spawnServer(serverEnv);
      let up = true;
      const lives: { pid: number; samples: { t: number; mb: number }[] }[] = [{ pid: child.pid!, samples: [] }];
      const started = Date.now();
      const sampler = setInterval(() => {
        const life = lives[lives.length - 1];
        const mb = up ? rssMb(life.pid) : null;
        if (mb !== null) life.samples.push({ t: Date.now() - started, mb });
      }, 1000);

      // Simulated devices: each sends its batch until the server acknowledges it (2xx), then the next.
      const acked = new Map<string, number>(); // id -> events
      const sent = new Set<string>();
      const counts = { posts: 0, failures: 0, serverErrors: 0, retries: 0 };
      const run = { sending: true };
      let k = 0;
      const device = async () => {
        while (run.sending) {
          const b = deviceBatch(k++);
          sent.add(b.id);
          for (let attempt = 0; ; attempt++) {
            if (attempt) counts.retries += 1;
            counts.posts += 1;
            try {
              const res = await fetch(`${base}/v1/signals`, {
                method: 'POST',
                headers: { 'content-type': 'text/plain;charset=UTF-8' },
                body: b.body,
                signal: AbortSignal.timeout(10_000),
              });
              await res.arrayBuffer();
              if (res.status === 202) {
                acked.set(b.id, b.events);
                break;
              }
              if (res.status < 500) throw new Error(`batch ${b.id} refused with ${res.status}`);
              counts.serverErrors += 1;
            } catch (err) {
              if ((err as Error).message.startsWith('batch ')) throw err;
              counts.failures += 1;
            }
            await sleep(200 + Math.random() * 300); // retry the same bytes
          }
          await sleep(PAUSE_MS);
        }
      };

      // Browser tabs: the built SDK with consent, ranking and tracking in a loop, each its own device.
      const statics = await startStaticServer(0);
      const browser: Browser = await chromium.launch({
        executablePath: chromiumPath(),
        args: ['--no-sandbox', '--disable-background-networking'],
      });
      const browserAcked = new Map<string, number>();
      const browserSent = new Set<string>();
      const pageErrors: string[] = [];
      const pages: Page[] = [];
      for (let i = 0; i < TABS; i++) {
        const page = await (await browser.newContext()).newPage();
        page.on('pageerror', (e) => pageErrors.push(e.message));
        page.on('request', (r) => {
          if (r.method() === 'POST' && r.url().endsWith('/v1/signals')) browserSent.add(JSON.parse(r.postData()!).id);
        });
        page.on('response', (r) => {
          const req = r.request();
          if (req.method() === 'POST' && r.url().endsWith('/v1/signals') && r.status() === 202) {
            const b = JSON.parse(req.postData()!);
            browserAcked.set(b.id, b.events.length);
          }
        });
        await page.goto(`${statics.url}/e2e/sdk.html`);
        await page.evaluate(
          async ({ server, activities }) => {
            const w = window as unknown as {
              Vitrine?: { init(o: object): Promise<unknown> };
              __soak: { stop: boolean; errors: string[]; v: unknown };
            };
            while (!w.Vitrine) await new Promise((r) => setTimeout(r, 5));
            const v = (await w.Vitrine.init({
              model: `${server}/v1/models/current`,
              endpoint: `${server}/v1`,
              consent: 'signals',
              backend: 'wasm',
            })) as {
              rank(a: unknown[], o: object): Promise<{ id: string; items: { id: string }[] }>;
              track(d: string, id: string, outcome: string): Promise<void>;
              flush(): Promise<void>;
            };
            w.__soak = { stop: false, errors: [], v };
            void (async () => {
              for (let n = 0; !w.__soak.stop; n++) {
                try {
                  const d = await v.rank(activities, { context: { weather: 'Sunny', time: '6PM' }, slots: 3 });
                  await v.track(d.id, d.items[n % d.items.length].id, n % 3 ? 'click' : 'dismiss');
                  if (n % 5 === 4) await v.flush();
                } catch (err) {
                  w.__soak.errors.push(String((err as Error)?.message ?? err));
                }
                await new Promise((r) => setTimeout(r, 300));
              }
            })();
          },
          { server: base, activities: ACTIVITIES },
        );
        pages.push(page);
      }

      const devices = Array.from({ length: DEVICES }, device);
      // Two hard kills: no graceful close, the store must still hold every acknowledged batch.
      for (const at of [0.3, 0.6]) {
        await sleep(Math.max(0, started + at * SECONDS * 1000 - Date.now()));
        up = false;
        child.kill('SIGKILL');
        await new Promise((r) => child.once('exit', r));
        await sleep(500);
        child = await spawnServer(serverEnv);
        lives.push({ pid: child.pid!, samples: [] });
        up = true;
      }
      await sleep(Math.max(0, started + SECONDS * 1000 - Date.now()));
      run.sending = false;
      await Promise.all(devices);
      // The tabs stop and hand in what they hold; their SDK retries what the kills interrupted.
      const tabState = [];
      for (const page of pages) {
        tabState.push(
          await page.evaluate(async () => {
            const w = window as unknown as {
              __soak: {
                stop: boolean;
                errors: string[];
                v: { flush(): Promise<void>; privacyReport(): Promise<{ pending: { batches: number } }> };
              };
            };
            w.__soak.stop = true;
            let pending = -1;
            for (let i = 0; i < 30; i++) {
              await w.__soak.v.flush().catch(() => undefined);
              pending = (await w.__soak.v.privacyReport()).pending.batches;
              if (pending === 0) break;
              await new Promise((r) => setTimeout(r, 500));
            }
            return { pending, errors: w.__soak.errors };
          }),
        );
      }
      clearInterval(sampler);
      await browser.close();
      await statics.close();
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));

      // Every acknowledged batch is stored exactly once with its events; every batch any client sent
      // was acknowledged in the end (retried through the kills); nothing else is stored.
      const all = new Map([...acked, ...browserAcked]);
      const rows = (await query('select id, n_events from batches', [])) as { id: string; n_events: number }[];
      const stored = new Map<string, number>();
      for (const r of rows) stored.set(r.id, (stored.get(r.id) ?? 0) + 1);
      const missing = [...all.keys()].filter((id) => stored.get(id) !== 1);
      const wrongEvents = rows.filter((r) => all.has(r.id) && all.get(r.id) !== Number(r.n_events)).map((r) => r.id);
      const unacknowledged = [...sent, ...browserSent].filter((id) => !all.has(id));
      const extra = rows.filter((r) => !all.has(r.id)).map((r) => r.id);

      const last = lives[lives.length - 1].samples;
      const warm = last.slice(3, 8).map((s) => s.mb);
      const end = last.slice(-5).map((s) => s.mb);
      const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
      const report = {
        store: name,
        seconds: SECONDS,
        deviceBatches: {
          sent: sent.size,
          acknowledged: acked.size,
          posts: counts.posts,
          retries: counts.retries,
          failures: counts.failures,
          serverErrors: counts.serverErrors,
        },
        browserBatches: { sent: browserSent.size, acknowledged: browserAcked.size, tabs: tabState },
        storedRows: rows.length,
        batchesPerSecond: Math.round(acked.size / SECONDS),
        rssMb: lives.map((l) => ({
          first: l.samples[0]?.mb,
          max: Math.max(...l.samples.map((s) => s.mb)),
          last: l.samples[l.samples.length - 1]?.mb,
          samples: l.samples.length,
        })),
        lastLife: { warmMedian: warm.length ? median(warm) : null, endMedian: end.length ? median(end) : null },
        pageErrors,
      };
      console.log(`soak: ${JSON.stringify(report)}`);

      expect(missing, 'acknowledged but not stored exactly once').toEqual([]);
      expect(wrongEvents, 'stored with other events than acknowledged').toEqual([]);
      expect(unacknowledged, 'sent but never acknowledged (clients retry until the server answers 2xx)').toEqual([]);
      expect(extra, 'stored but never acknowledged to anyone').toEqual([]);
      expect(counts.failures, 'the kills interrupted requests (else this test proves nothing)').toBeGreaterThan(0);
      expect(acked.size).toBeGreaterThan(SECONDS * 20);
      expect(browserAcked.size, 'the browser tabs got batches through').toBeGreaterThanOrEqual(TABS);
      expect(tabState.every((t) => t.pending === 0)).toBe(true);
      expect(pageErrors).toEqual([]);
      // Memory: within the last (longest) life, RSS after warm-up does not keep growing.
      expect(warm.length).toBeGreaterThan(0);
      expect(median(end)).toBeLessThan(median(warm) * 1.5 + 64);
    },
  );
});
