/** Owns `npm run server`: the Vitrine server alone, configured from the environment (PORT, VITRINE_DATA_DIR or DATABASE_URL). */
import { configFromEnv, type ServerConfig } from './config';
import { createServer } from './http/server';
import { openDb } from './store/db';

export async function startServer(overrides: Partial<ServerConfig> = {}) {
  const config = { ...configFromEnv(), ...overrides };
  const db = await openDb({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  const server = await createServer(config, db);
  const address = await server.app.listen({ port: config.port, host: config.host });
  return { server, address, config };
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('/server/src/main.ts')) {
  // A configuration error (no signing key, a bad variable) is one line, not a stack trace.
  const { server, address, config } = await startServer().catch((err: Error) => {
    console.error(`vitrine server: ${err.message}`);
    process.exit(1);
  });
  const current = server.registry.getCurrent()!;
  const store = config.databaseUrl ? 'PostgreSQL' : `embedded PGlite in ${config.dataDir}`;
  console.log(`vitrine server on ${address} (${store}); current model ${current.version}`);
  // Said at every start: a proxy setting that does not fit the deployment merges all clients into one network and bucket.
  const proxy = config.trustProxy;
  const trusted =
    typeof proxy === 'number' ? `${proxy} proxy hop(s)` : proxy === true ? 'every hop (spoofable)' : `proxies ${String(proxy)}`;
  console.log(
    proxy === false
      ? 'client addresses: the socket peer (VITRINE_TRUST_PROXY unset: X-Forwarded-For ignored)'
      : `client addresses: from X-Forwarded-For, trusting ${trusted}`,
  );
  const policy = await server.policies.stored();
  console.log(
    policy
      ? `merchant policy from ${policy.source}: ${policy.segments.length} segment(s), ` +
          `${policy.rules.pacing?.length ?? 0} pacing budget(s); devices read it at /v1/policy`
      : 'no merchant policy yet: PUT /v1/admin/policy, or start with VITRINE_POLICY_FILE=<rules.json>',
  );
  const key = server.registry.signingKey();
  console.log(
    key
      ? `model signing key ${key.keyId}; pin it in the SDK as modelKey / data-model-key="${key.publicKeySpki}"`
      : 'models are served UNSIGNED (VITRINE_UNSIGNED_MODELS=1): development only',
  );
  const stop = async () => {
    await server.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
