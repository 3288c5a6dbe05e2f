/**
 * `npm start`: the Vitrine server (embedded PGlite in .vitrine/) and the demo shop, together.
 * Ctrl-C stops both; if either exits, the other is stopped too.
 *
 * `npm run start:qa-loop` (`--qa-loop`): the same with settings that let ONE tester watch the
 * whole loop (a round from a single device, negligible noise, a small step, promotion after a
 * few events) in its own data directory `.vitrine-qa/`. It offers no privacy: QA only.
 */
import { spawn, type ChildProcess } from 'node:child_process';

const serverPort = process.env.PORT ?? '8787';
const children: ChildProcess[] = [];
let stopping = false;

function run(name: string, command: string, args: string[], env: Record<string, string>): ChildProcess {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  const prefix = (chunk: Buffer) => chunk.toString().split('\n').filter(Boolean).map((l) => `[${name}] ${l}`).join('\n');
  child.stdout!.on('data', (c: Buffer) => console.log(prefix(c)));
  child.stderr!.on('data', (c: Buffer) => console.error(prefix(c)));
  child.on('exit', (code) => {
    if (!stopping) console.error(`[${name}] exited with ${code}; stopping`);
    stop(code ?? 1);
  });
  children.push(child);
  return child;
}

function stop(code = 0): void {
  if (stopping) return;
  stopping = true;
  for (const c of children) c.kill('SIGTERM');
  setTimeout(() => process.exit(code), 500).unref();
}

process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));

const qaLoop = process.argv.includes('--qa-loop');
const qaEnv: Record<string, string> = qaLoop
  ? { VITRINE_DATA_DIR: process.env.VITRINE_DATA_DIR ?? '.vitrine-qa', VITRINE_MIN_COHORT: '1', VITRINE_EPSILON: '1000000', VITRINE_LEARNING_RATE: '0.01', VITRINE_MIN_OPE_EVENTS: '4', VITRINE_ROUND_INTERVAL_MS: '60000' }
  : {};
if (qaLoop) console.log('QA loop: cohort 1, negligible noise, a round every minute (no privacy; never for production)');
run('server', process.execPath, ['--conditions=source', '--import', 'tsx', 'packages/server/src/main.ts'], { PORT: serverPort, ...qaEnv });
run('demo', 'npm', ['run', 'dev', '-w', '@vitrine/demo-shop'], { VITRINE_SERVER: `http://127.0.0.1:${serverPort}` });
