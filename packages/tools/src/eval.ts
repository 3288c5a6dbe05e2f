/**
 * `npm run eval -- --dataset coupons --data <csv> [--model <manifest>] [--backend wasm|cpu] [--json]`
 *
 * Replays each respondent's rows in file order through the SDK's own code (createVitrine, its
 * profile store, feature encoder, model loader and tfjs scorer): a fresh profile per respondent,
 * score the offered activity with rank(), then record the real answer with track().
 */
import { readFileSync, existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createRequire } from 'node:module';
import { SingleBar, Presets } from 'cli-progress';
import { createVitrine } from '@vitrine/sdk';
import { loadCoupons, type CouponRow } from '@vitrine/models/datasets/coupons';
import { auc, logloss } from '@vitrine/models/training';

const { values: args } = parseArgs({
  options: {
    dataset: { type: 'string', default: 'coupons' },
    data: { type: 'string' },
    model: { type: 'string', default: createRequire(import.meta.url).resolve('@vitrine/models/coupons/manifest.json') },
    backend: { type: 'string', default: 'wasm' },
    json: { type: 'boolean', default: false },
  },
});
const fail = (m: string): never => {
  console.error(`eval: ${m}`);
  process.exit(2);
};
if (args.dataset !== 'coupons') fail(`unknown --dataset ${args.dataset} (supported: coupons)`);
if (!args.data) fail('--data <csv> is required');
if (!existsSync(args.model!)) fail(`--model ${args.model} does not exist`);
if (!['wasm', 'cpu'].includes(args.backend!)) fail('--backend must be wasm or cpu in Node');

// The SDK fetches its model; in Node we serve file: URLs from disk.
const realFetch = globalThis.fetch;
globalThis.fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
  const url = String(input instanceof Request ? input.url : input);
  if (!url.startsWith('file:')) return realFetch(input, init);
  const path = fileURLToPath(url);
  return existsSync(path) ? new Response(readFileSync(path)) : new Response('not found', { status: 404 });
}) as typeof fetch;

export interface EvalResult {
  auc: number;
  logloss: number;
  n: number;
  respondents: number;
  auc_after_5: number;
  version: string;
  bytes: number;
  quantization: string;
  backend: string;
}

async function evaluate(manifestPath: string, rows: CouponRow[], bar?: SingleBar): Promise<EvalResult> {
  const vitrine = await createVitrine({
    model: pathToFileURL(resolve(manifestPath)).href,
    backend: args.backend as 'wasm',
    storage: 'memory',
    epsilon: 0,
  });
  if (vitrine.status.degraded) fail(`model could not be used: ${vitrine.status.degraded}`);
  const scores: number[] = [];
  const labels: number[] = [];
  const history: number[] = [];
  let respondent: string | undefined;
  let seen = 0;
  let respondents = 0;
  for (const row of rows) {
    if (row.respondent !== respondent) {
      respondent = row.respondent;
      seen = 0;
      respondents += 1;
      await vitrine.forget();
      await vitrine.setUser(row.user);
    }
    const d = await vitrine.rank([row.activity], { context: row.context });
    scores.push(d.items[0].score!);
    labels.push(row.label);
    history.push(seen);
    await vitrine.track(d.id, row.activity.id, row.outcome);
    seen += 1;
    bar?.increment();
  }
  const after5 = history.map((h, i) => (h >= 5 ? i : -1)).filter((i) => i >= 0);
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  const status = vitrine.status;
  vitrine.close();
  return {
    auc: auc(scores, labels),
    logloss: logloss(scores, labels),
    n: rows.length,
    respondents,
    auc_after_5: auc(
      after5.map((i) => scores[i]),
      after5.map((i) => labels[i]),
    ),
    // What a browser downloads: the manifest plus its weight files.
    version: status.modelVersion!,
    bytes: statSync(manifestPath).size + manifest.files.reduce((s: number, f: { bytes: number }) => s + f.bytes, 0),
    quantization: manifest.quantization?.scheme ?? 'unknown',
    backend: status.backend,
  };
}

let rows: CouponRow[] = [];
try {
  rows = loadCoupons(args.data!);
} catch (err) {
  fail((err as Error).message);
}
const manifestPath = args.model!;
const versioned = JSON.parse(readFileSync(manifestPath, 'utf8')).files[0].path as string;
const float32Path = resolve(
  manifestPath,
  '..',
  versioned.includes('/') ? versioned.slice(0, versioned.lastIndexOf('/') + 1) : '',
  'manifest.float32.json',
);
const bar = new SingleBar({ format: 'eval [{bar}] {percentage}% | {value}/{total} rows', stream: process.stderr }, Presets.shades_classic);
bar.start(rows.length * (existsSync(float32Path) ? 2 : 1), 0);
const q = await evaluate(manifestPath, rows, bar);
const f = existsSync(float32Path) ? await evaluate(float32Path, rows, bar) : undefined;
bar.stop();
console.error(
  `eval: ${q.version} on ${args.data} (${q.respondents} respondents, ${q.n} rows, ${q.backend}): ` +
    `AUC ${q.auc.toFixed(4)}, logloss ${q.logloss.toFixed(4)}, AUC after 5 answers ${q.auc_after_5.toFixed(4)}` +
    (f ? `; float32 AUC ${f.auc.toFixed(4)}` : ''),
);
const out = {
  auc: q.auc,
  logloss: q.logloss,
  n: q.n,
  respondents: q.respondents,
  auc_after_5: q.auc_after_5,
  float32: f ? { auc: f.auc, logloss: f.logloss } : null,
  model: { version: q.version, bytes: q.bytes, quantization: q.quantization },
};
console.log(args.json ? JSON.stringify(out) : JSON.stringify(out, null, 1));
