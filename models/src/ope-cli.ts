/**
 * `npm run ope -- --obd ../shared/data/obd --campaign men [--json]`
 *
 * Open Bandit Dataset: estimate the uniform-random policy's click rate from the Bernoulli
 * Thompson sampling logs (with their propensities) and compare with the rate observed in the
 * random logs; and the reverse, BTS's value from the random logs. BTS's propensities change over
 * the period, so "the BTS policy" is its time-average: the empirical (item, position) frequency in
 * the BTS logs, normalised per position (`--bts-target frequency`, default). `--bts-target
 * mean-propensity` keeps the earlier target, the mean logged propensity per (item, position),
 * which is biased upward (E[p²]/E[p]). The OBD paper's start-of-period prior target is not offered:
 * it needs ZOZOTOWN's Beta prior parameters, which are in OBP's code, not in the data files.
 *
 * The pure math (weights, ESS, warnings, clipping, bootstrap) is in @vitrine/core/ope.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Papa from 'papaparse';
import { clampInterval, crossFittedRateModel, offPolicyEstimates, type Estimate, type LoggedImpression } from '@vitrine/core/ope';

const { values: args } = parseArgs({
  options: {
    obd: { type: 'string' },
    campaign: { type: 'string', default: 'men' },
    json: { type: 'boolean', default: false },
    'bts-target': { type: 'string', default: 'frequency' },
  },
});
const fail = (m: string): never => {
  console.error(`ope: ${m}`);
  process.exit(2);
};
if (!args.obd) fail('--obd <dir> is required (e.g. ../shared/data/obd)');
const btsTargets = {
  frequency: 'empirical (item, position) frequency in the BTS logs, normalised per position (time-average policy)',
  'mean-propensity': 'mean logged BTS propensity per (item, position), normalised per position (biased upward: E[p²]/E[p])',
} as const;
const btsTarget = args['bts-target'] as keyof typeof btsTargets;
if (!(btsTarget in btsTargets)) fail(`--bts-target must be one of ${Object.keys(btsTargets).join(', ')}, got ${btsTarget}`);

interface Row {
  item: string;
  position: number;
  click: number;
  propensity: number;
}
function read(policy: string): Row[] {
  const path = join(args.obd!, policy, `${args.campaign}.csv`);
  if (!existsSync(path)) fail(`${path} not found`);
  const parsed = Papa.parse<Record<string, string>>(readFileSync(path, 'utf8'), { header: true, skipEmptyLines: true });
  for (const col of ['item_id', 'position', 'click', 'propensity_score'])
    if (!parsed.meta.fields?.includes(col)) fail(`${path}: missing column ${col}`);
  return parsed.data.map((r) => ({
    item: r.item_id,
    position: Number(r.position),
    click: Number(r.click),
    propensity: Number(r.propensity_score),
  }));
}

const logs = { random: read('random'), bts: read('bts') };
const items = [...new Set([...logs.random, ...logs.bts].map((r) => r.item))].sort((a, b) => Number(a) - Number(b));
const positions = [...new Set(logs.random.map((r) => r.position))].sort();

// Target policies as P(item at position).
const uniform = (_item: string, _position: number) => 1 / items.length;
const btsStats = new Map<string, [sumPropensity: number, count: number]>();
for (const r of logs.bts) {
  const k = `${r.item}|${r.position}`;
  const [s, n] = btsStats.get(k) ?? [0, 0];
  btsStats.set(k, [s + r.propensity, n + 1]);
}
const btsRaw = (item: string, position: number) => {
  const [s, n] = btsStats.get(`${item}|${position}`) ?? [0, 0];
  if (btsTarget === 'frequency') return n;
  return n ? s / n : 0;
};
const btsNorm = new Map(positions.map((p) => [p, items.reduce((s, i) => s + btsRaw(i, p), 0)]));
const bts = (item: string, position: number) => btsRaw(item, position) / btsNorm.get(position)!;

function run(from: Row[], target: (item: string, position: number) => number) {
  const impressions: LoggedImpression[] = from.map((r) => ({
    action: r.item,
    position: r.position,
    reward: r.click,
    propensity: r.propensity,
    targetPropensity: target(r.item, r.position),
  }));
  const res = offPolicyEstimates(
    impressions,
    {
      modelFor: crossFittedRateModel(impressions),
      target: (position) => items.map((i): [string, number] => [i, target(i, position)]),
    },
    { describeRow: (i) => `row ${i} (item ${from[i].item}, position ${from[i].position}, propensity ${from[i].propensity})` },
  );
  const fmt = (e: Estimate) => ({ value: e.value, ci: e.ci, interval: e.interval });
  const d = res.diagnostics;
  return {
    ipw: fmt(res.ipw),
    snipw: fmt(res.snipw),
    dr: fmt(res.dr!),
    n: res.n,
    effective_sample_size: res.effectiveSampleSize,
    max_weight: res.maxWeight,
    max_weight_row: { index: d.maxWeightIndex, ...from[d.maxWeightIndex], share: d.maxWeightShare },
    warnings: d.warnings,
    clipped: res.clipped.map((c) => ({
      cap_times_mean_weight: c.multiple,
      cap: c.cap,
      clipped_rows: c.clippedRows,
      ipw: c.ipw,
      snipw: c.snipw,
    })),
  };
}

const rate = (rows: Row[]) => rows.reduce((s, r) => s + r.click, 0) / rows.length;
const binomialCi = (rows: Row[]): [number, number] => {
  const p = rate(rows);
  const se = Math.sqrt((p * (1 - p)) / rows.length);
  return clampInterval([p - 1.96 * se, p + 1.96 * se]);
};
const result = {
  campaign: args.campaign,
  observed: { random: rate(logs.random), bts: rate(logs.bts) },
  observed_ci: { random: binomialCi(logs.random), bts: binomialCi(logs.bts) },
  clicks: { random: logs.random.reduce((s, r) => s + r.click, 0), bts: logs.bts.reduce((s, r) => s + r.click, 0) },
  estimates: {
    random: { from: 'bts', ...run(logs.bts, uniform) },
    bts: { from: 'random', target: btsTargets[btsTarget], ...run(logs.random, bts) },
  },
};

const pct = (x: number) => `${(x * 100).toFixed(3)}%`;
const ci = (c: [number, number]) => `[${pct(c[0])}, ${pct(c[1])}]`;
console.error(`| target | from logs | observed CTR (95% CI) | IPW | SNIPW | DR | ESS |`);
console.error(`|---|---|---|---|---|---|---|`);
for (const [target, e] of Object.entries(result.estimates)) {
  const obs = result.observed[target as 'random' | 'bts'];
  const cells = [
    target,
    e.from,
    `${pct(obs)} ${ci(result.observed_ci[target as 'random' | 'bts'])}`,
    `${pct(e.ipw.value)} ${ci(e.ipw.ci)}${e.ipw.interval === 'bootstrap' ? ' (bootstrap)' : ''}`,
    `${pct(e.snipw.value)} ${ci(e.snipw.ci)}${e.snipw.interval === 'bootstrap' ? ' (bootstrap)' : ''}`,
    `${pct(e.dr.value)} ${ci(e.dr.ci)}${e.dr.interval === 'bootstrap' ? ' (bootstrap)' : ''}`,
    e.effective_sample_size.toFixed(0),
  ];
  console.error(`| ${cells.join(' | ')} |`);
}
for (const [target, e] of Object.entries(result.estimates)) {
  const clip = e.clipped.map(
    (c) => `${c.cap_times_mean_weight}×: IPW ${pct(c.ipw)}, SNIPW ${pct(c.snipw)} (${c.clipped_rows} rows clipped)`,
  );
  console.error(`${target}: weights clipped at k × mean weight: ${clip.join('; ')}`);
  for (const w of e.warnings) console.error(`WARNING ${target} from ${e.from} logs: ${w}`);
}
console.error(`bts target: ${result.estimates.bts.target}`);
console.log(JSON.stringify(result));
