/**
 * `npm run eval -- --dataset coupons --data <csv> [--model <manifest>] [--backend wasm|cpu] [--json]`
 *
 * Replays each respondent's rows in file order through the SDK's own code (createVitrine, its
 * profile store, feature encoder, model loader and tfjs scorer): a fresh profile per respondent,
 * score the offered activity with rank(), then record the real answer with track().
 *
 * Ranking metrics (`--k 1,3,5`): a list is the offers one respondent answered in one driving
 * scenario (same destination, passenger, weather, temperature and time), ranked by the scores
 * the replay gave them, relevance = accepted. Lists with fewer than 2 offers or no acceptance
 * are skipped and counted. Baselines on the same lists: a seeded random order and the
 * population prior (each offer's acceptance rate in the file).
 */
import { readFileSync, existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createRequire } from 'node:module';
import { SingleBar, Presets } from 'cli-progress';
import { createVitrine } from '@vitrine/sdk';
import { seededRandom } from '@vitrine/core/random';
import { loadCoupons, type CouponRow } from '@vitrine/models/datasets/coupons';
import { auc, logloss, rankingMetrics, type RankingList, type RankingSummary } from '@vitrine/models/training';

const { values: args } = parseArgs({
  options: {
    dataset: { type: 'string', default: 'coupons' },
    data: { type: 'string' },
    model: { type: 'string', default: createRequire(import.meta.url).resolve('@vitrine/models/coupons/manifest.json') },
    backend: { type: 'string', default: 'wasm' },
    json: { type: 'boolean', default: false },
    k: { type: 'string', default: '1,3,5' },
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
const ks = args.k!.split(',').map((v) => Number(v.trim()));
if (!ks.length || ks.some((k) => !Number.isInteger(k) || k < 1))
  fail(`--k must be a comma-separated list of positive integers, got "${args.k}"`);

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
  scores: number[];
}

/** The survey's scenario: what a respondent was doing when asked (the offer's distance and direction vary per offer). */
const SCENARIO_KEYS = ['destination', 'passanger', 'weather', 'temperature', 'time'] as const;
const RANKING_DEFINITION =
  'a list = the offers one respondent answered in one scenario (same destination, passanger, weather, temperature, time), ' +
  'ranked by the score the SDK gave each when it was offered during the replay (ties: file order); relevance = accepted (Y = 1); ' +
  'lists with fewer than 2 offers or no acceptance are skipped; NDCG with linear gain and log2(rank + 1) discount, hit rate = ' +
  'an accepted offer in the top k; means over lists';

/** Row indices grouped into ranking lists, in order of first appearance. */
function scenarioLists(rows: CouponRow[]): number[][] {
  const groups = new Map<string, number[]>();
  rows.forEach((r, i) => {
    const key = JSON.stringify([r.respondent, ...SCENARIO_KEYS.map((k) => r.context[k] ?? null)]);
    const g = groups.get(key);
    if (g) g.push(i);
    else groups.set(key, [i]);
  });
  return [...groups.values()];
}

const RANDOM_SEEDS = 20;

/** The model's order and the two baselines' on the given lists. */
function rankOrders(rows: CouponRow[], scores: number[], groups: number[][]) {
  const lists = (score: (i: number) => number): RankingList[] =>
    groups.map((g) => ({ scores: g.map(score), labels: g.map((i) => rows[i].label) }));
  const strip = (s: RankingSummary) => ({ ndcg: s.ndcg, hit_rate: s.hit_rate });
  const model = rankingMetrics(
    lists((i) => scores[i]),
    ks,
  );
  // Population prior: each offer's acceptance rate over the whole file (in-sample, so a generous baseline).
  const counts = new Map<string, [number, number]>();
  for (const r of rows) {
    const c = counts.get(r.activity.id) ?? [0, 0];
    counts.set(r.activity.id, [c[0] + r.label, c[1] + 1]);
  }
  const prior = rankingMetrics(
    lists((i) => {
      const [a, n] = counts.get(rows[i].activity.id)!;
      return a / n;
    }),
    ks,
  );
  // Random order: the mean over RANDOM_SEEDS seeded shuffles.
  const random = { ndcg: {} as Record<string, number>, hit_rate: {} as Record<string, number> };
  for (let seed = 1; seed <= RANDOM_SEEDS; seed++) {
    const rand = seededRandom(seed);
    const s = rankingMetrics(
      lists(() => rand()),
      ks,
    );
    for (const k of ks) {
      random.ndcg[k] = (random.ndcg[k] ?? 0) + s.ndcg[k];
      random.hit_rate[k] = (random.hit_rate[k] ?? 0) + s.hit_rate[k];
    }
  }
  for (const k of ks) {
    random.ndcg[k] /= RANDOM_SEEDS;
    random.hit_rate[k] /= RANDOM_SEEDS;
  }
  return {
    model,
    baselines: {
      random: { description: `random order, mean over seeds 1..${RANDOM_SEEDS}`, ...random },
      prior: { description: "population prior: each offer's acceptance rate in this file (in-sample)", ...strip(prior) },
    },
  };
}

function ranking(rows: CouponRow[], scores: number[]) {
  const groups = scenarioLists(rows);
  const all = rankOrders(rows, scores, groups);
  // Lists with both an acceptance and a refusal: the ones where the order can be wrong.
  const mixedGroups = groups.filter((g) => g.length >= 2 && g.some((i) => rows[i].label === 1) && g.some((i) => rows[i].label === 0));
  const mixed = rankOrders(rows, scores, mixedGroups);
  return {
    definition: RANKING_DEFINITION,
    lists: all.model.lists,
    skipped_single: all.model.skipped_single,
    skipped_no_positive: all.model.skipped_no_positive,
    all_positive: all.model.all_positive,
    k: ks,
    ndcg: all.model.ndcg,
    hit_rate: all.model.hit_rate,
    baselines: all.baselines,
    mixed: {
      description: 'the same metrics on the used lists that also hold a refusal (all-accepted lists score 1 under any order)',
      lists: mixed.model.lists,
      ndcg: mixed.model.ndcg,
      hit_rate: mixed.model.hit_rate,
      baselines: mixed.baselines,
    },
  };
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
    scores,
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
const rank = ranking(rows, q.scores);
const fmt = (m: Record<string, number>) => ks.map((k) => `@${k} ${m[k].toFixed(3)}`).join(' ');
console.error(
  `eval: ${q.version} on ${args.data} (${q.respondents} respondents, ${q.n} rows, ${q.backend}): ` +
    `AUC ${q.auc.toFixed(4)}, logloss ${q.logloss.toFixed(4)}, AUC after 5 answers ${q.auc_after_5.toFixed(4)}` +
    (f ? `; float32 AUC ${f.auc.toFixed(4)}` : ''),
);
console.error(
  `eval: ranking over ${rank.lists} lists (respondent x scenario; ${rank.skipped_single} single-offer and ` +
    `${rank.skipped_no_positive} without an acceptance skipped): NDCG ${fmt(rank.ndcg)}, hit rate ${fmt(rank.hit_rate)}; ` +
    `random NDCG ${fmt(rank.baselines.random.ndcg)}, prior NDCG ${fmt(rank.baselines.prior.ndcg)}; ` +
    `on the ${rank.mixed.lists} lists with a refusal too: NDCG ${fmt(rank.mixed.ndcg)}, random ${fmt(rank.mixed.baselines.random.ndcg)}, ` +
    `prior ${fmt(rank.mixed.baselines.prior.ndcg)}`,
);
const out = {
  auc: q.auc,
  logloss: q.logloss,
  n: q.n,
  respondents: q.respondents,
  auc_after_5: q.auc_after_5,
  float32: f ? { auc: f.auc, logloss: f.logloss } : null,
  ranking: rank,
  model: { version: q.version, bytes: q.bytes, quantization: q.quantization },
};
console.log(args.json ? JSON.stringify(out) : JSON.stringify(out, null, 1));
