/**
 * Owns `npm run aggregate`: runs one aggregation round. When a server is listening on PORT it asks
 * that server (an embedded data directory must have one writer); otherwise it opens the store
 * (VITRINE_DATA_DIR or DATABASE_URL) itself. Asking a server needs its VITRINE_ADMIN_TOKEN (`npm start`
 * prints the one it generated). Prints the round report as JSON.
 */
import { configFromEnv } from './config';
import { createServer } from './http/server';
import { openDb } from './store/db';

const config = configFromEnv();
const url = `http://127.0.0.1:${config.port}/v1/admin/rounds`;
let report: unknown;
try {
  const headers: Record<string, string> = config.adminToken ? { authorization: `Bearer ${config.adminToken}` } : {};
  const res = await fetch(url, { method: 'POST', headers });
  report = await res.json();
  if (!res.ok) {
    const hint = config.adminToken ? '' : ' (set VITRINE_ADMIN_TOKEN to the token the server was started with; npm start prints it)';
    throw Object.assign(new Error(`server answered ${res.status}: ${JSON.stringify(report)}${hint}`), { fatal: true });
  }
  console.error(`aggregate: ran on the server at ${url}`);
} catch (err) {
  if ((err as { fatal?: boolean }).fatal) {
    console.error(`aggregate: ${(err as Error).message}`);
    process.exit(1);
  }
  const db = await openDb({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  const server = await createServer({ ...config, roundIntervalMs: 0, logger: false }, db);
  report = await server.aggregate();
  await server.close();
  console.error(`aggregate: no server on port ${config.port}; ran on ${config.databaseUrl ? 'DATABASE_URL' : config.dataDir}`);
}
console.log(JSON.stringify(report, null, 1));
