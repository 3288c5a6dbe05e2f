/**
 * `npm start`: the Vitrine server (embedded PGlite in .vitrine/) and the demo shop, together.
 * Prints the demo's URL only once both answer (the server GET /v1/privacy with 200, the demo page
 * and its /v1 proxy to the server); if either exits first, or they are not ready within
 * START_TIMEOUT_S seconds (default 60), stops both and says why. Ctrl-C stops both; if either
 * exits later, the other is stopped too.
 *
 * `npm run start:qa-loop` (`--qa-loop`): the same with settings that let ONE tester watch the
 * whole loop (a round from a single device, negligible noise, a small step, promotion after a
 * few events) in its own data directory `.vitrine-qa/`. It offers no privacy: QA only.
 *
 * PORT (server, default 8787) and DEMO_PORT (demo, default 5173) choose the ports. The admin routes
 * (`npm run aggregate`) and the dashboard (its URL is printed; the demo's QA panel links to it)
 * always need a token: VITRINE_ADMIN_TOKEN, or one generated here and printed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:net';

const HOST = '127.0.0.1';
const serverPort = process.env.PORT ?? '8787';
const demoPort = process.env.DEMO_PORT ?? '5173';
const serverUrl = `http://${HOST}:${serverPort}`;
const demoUrl = `http://${HOST}:${demoPort}/`;
const timeoutS = Number(process.env.START_TIMEOUT_S ?? 60);

const children: { name: string; child: ChildProcess }[] = [];
let stopping = false;
let ready = false;

function run(name: string, command: string, args: string[], env: Record<string, string>): ChildProcess {
  // Each child leads its own process group, so stopping it also stops what it started (npm -> sh -> vite).
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env }, detached: true });
  const prefix = (chunk: Buffer) =>
    chunk
      .toString()
      .split('\n')
      .filter(Boolean)
      .map((l) => `[${name}] ${l}`)
      .join('\n');
  child.stdout!.on('data', (c: Buffer) => console.log(prefix(c)));
  child.stderr!.on('data', (c: Buffer) => console.error(prefix(c)));
  child.on('exit', (code, signal) => {
    if (stopping) return;
    const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
    console.error(ready ? `[${name}] ${how}; stopping` : `npm start: the ${name} ${how} before it was ready; stopping`);
    stop(code || 1);
  });
  children.push({ name, child });
  return child;
}

function stop(code = 0): void {
  if (stopping) return;
  stopping = true;
  for (const { child } of children) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    try {
      process.kill(-child.pid!, 'SIGTERM');
    } catch {
      child.kill('SIGTERM');
    }
  }
  // Give the server time to close its store; then make sure nothing is left behind.
  setTimeout(() => {
    for (const { child } of children) {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    process.exit(code);
  }, 3000).unref();
  const done = () => children.every(({ child }) => child.exitCode !== null || child.signalCode !== null);
  const poll = setInterval(() => {
    if (done()) {
      clearInterval(poll);
      process.exit(code);
    }
  }, 50);
}

process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));
process.on('SIGHUP', () => stop(0));

/** The signing key for the server's environment and its public key (SPKI base64) for the demo shop. */
function devSigningKey(dataDir: string): { signingEnv: Record<string, string>; modelKey: string } {
  const spki = (pem: string) => {
    const text = pem.trim();
    const key = text.startsWith('{') ? createPrivateKey({ key: JSON.parse(text), format: 'jwk' }) : createPrivateKey(text);
    return createPublicKey(key).export({ type: 'spki', format: 'der' }).toString('base64');
  };
  if (process.env.VITRINE_SIGNING_KEY) return { signingEnv: {}, modelKey: spki(process.env.VITRINE_SIGNING_KEY) };
  if (process.env.VITRINE_SIGNING_KEY_FILE) {
    return { signingEnv: {}, modelKey: spki(readFileSync(process.env.VITRINE_SIGNING_KEY_FILE, 'utf8')) };
  }
  const path = join(dataDir, 'signing-key.pem');
  if (!existsSync(path)) {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(path, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    console.log(`npm start: generated a dev model signing key in ${path} (development only; set VITRINE_SIGNING_KEY in production)`);
  }
  return { signingEnv: { VITRINE_SIGNING_KEY_FILE: path }, modelKey: spki(readFileSync(path, 'utf8')) };
}

/** Something already listening on the port (another `npm start`?) would answer our readiness checks. */
function portInUse(port: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: HOST, port: Number(port) });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Resolves when `url` answers 200; rejects with the last problem seen when `deadline` passes. */
async function waitFor200(url: string, deadline: number): Promise<void> {
  let last: string;
  for (;;) {
    if (stopping) return; // set from the children's exit handlers
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      const e = err as Error & { cause?: { code?: string } };
      last = e.cause?.code ?? e.message;
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer 200 within ${timeoutS} s (last: ${last})`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const busy = (await Promise.all([serverPort, demoPort].map(portInUse))).flatMap((b, i) => (b ? [[serverPort, demoPort][i]] : []));
if (busy.length) {
  console.error(`npm start: port ${busy.join(' and ')} already in use on ${HOST} (another npm start?); stop it, or set PORT / DEMO_PORT`);
  process.exit(1);
}

const qaLoop = process.argv.includes('--qa-loop');
const qaEnv: Record<string, string> = qaLoop
  ? {
      VITRINE_DATA_DIR: process.env.VITRINE_DATA_DIR ?? '.vitrine-qa',
      VITRINE_MIN_COHORT: '1',
      VITRINE_EPSILON: '1000000',
      VITRINE_MIN_OPE_NETWORKS: '1',
      VITRINE_ROUND_SPACING_HOURS: '0',
      VITRINE_PROMOTION_MARGIN: '1',
      VITRINE_MIN_OPE_EVENTS: '4',
      VITRINE_ROUND_INTERVAL_MS: '60000',
    }
  : {};
if (qaLoop) console.log('QA loop: cohort 1, negligible noise, a round every minute (no privacy; never for production)');
console.log(`npm start: starting the Vitrine server (${serverUrl}) and the demo shop (${demoUrl}); waiting until both answer…`);
// Admin routes always need a token: a random one for this run unless one is set.
const adminToken = process.env.VITRINE_ADMIN_TOKEN || randomBytes(32).toString('base64url');
// Models are signed: VITRINE_SIGNING_KEY(_FILE) when set, else a dev key pair kept in the data directory
// (so it survives restarts); the demo shop pins its public half.
const { signingEnv, modelKey } = devSigningKey(process.env.VITRINE_DATA_DIR ?? (qaLoop ? '.vitrine-qa' : '.vitrine'));
const dashboardUrl = `${serverUrl}/dashboard`;
if (!process.env.VITRINE_ADMIN_TOKEN) {
  console.log(
    `npm start: generated a dev admin token for this run (set VITRINE_ADMIN_TOKEN to choose one):\n  ${adminToken}\n` +
      `  sign in to the dashboard (${dashboardUrl}) with it, or run a round with\n  VITRINE_ADMIN_TOKEN=${adminToken} npm run aggregate`,
  );
}
run('server', process.execPath, ['--conditions=source', '--import', 'tsx', 'packages/server/src/main.ts'], {
  ...signingEnv,
  PORT: serverPort,
  VITRINE_ADMIN_TOKEN: adminToken,
  // The demo merchant's rules and segments (stored when the server has none; the dashboard's admin API changes them).
  VITRINE_POLICY_FILE: process.env.VITRINE_POLICY_FILE ?? 'packages/demo-shop/policy.json',
  ...qaEnv,
});
run('demo', 'npm', ['run', 'dev', '-w', '@vitrine/demo-shop'], {
  VITRINE_SERVER: serverUrl,
  DEMO_PORT: demoPort,
  VITRINE_QA_LOOP: qaLoop ? '1' : '',
  VITRINE_MODEL_KEY: modelKey,
  // The QA panel links to the dashboard (Vite exposes VITE_* variables to the page).
  VITE_VITRINE_DASHBOARD: dashboardUrl,
});

const deadline = Date.now() + timeoutS * 1000;
try {
  await Promise.all([waitFor200(`${serverUrl}/v1/privacy`, deadline), waitFor200(demoUrl, deadline)]);
  // The page's own path to the server: the dev server's /v1 proxy (a page opened before this worked showed HTTP 502).
  await waitFor200(`${demoUrl}v1/privacy`, deadline);
  if (!stopping) {
    ready = true;
    const token = process.env.VITRINE_ADMIN_TOKEN ? 'your VITRINE_ADMIN_TOKEN' : 'the admin token printed above (VITRINE_ADMIN_TOKEN)';
    console.log(
      `\nVitrine demo shop ready: ${demoUrl}  (server ${serverUrl}, stats ${serverUrl}/v1/stats; Ctrl-C stops both)\n` +
        `Dashboard: ${dashboardUrl}  (sign in with ${token})\n`,
    );
  }
} catch (err) {
  if (!stopping) {
    console.error(`npm start: not ready: ${(err as Error).message}; stopping`);
    stop(1);
  }
}
