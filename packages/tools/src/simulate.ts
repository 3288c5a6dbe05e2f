/**
 * `npm run simulate -- --data <coupons-train.csv> [--rounds 8] [--epsilons 1,4,8,none] [--json]`
 *
 * The reward loop end to end, on real respondents: a seed model is trained centrally on a
 * quarter of them; most of the rest become simulated shoppers who run the SDK's real code in
 * Node (createVitrine, rank, track, the signals stage with its accountant, clipping and local
 * noise) against a real Vitrine server on loopback (HTTP, PGlite in memory, the real DP
 * aggregation and shadow promotion); the held-out fifth measures AUC after every round. A
 * central model trained on seed + contributors' raw rows is the reference a private loop
 * tries to approach. Last line: {"seed_auc", "central_auc", "rounds": [...], "final": {...}}.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SingleBar, Presets } from 'cli-progress';
import { quantizeMlp } from '@vitrine/core/artifact';
import type { FeatureSpec } from '@vitrine/core/features';
import { seededRandom } from '@vitrine/core/random';
import {
  DEFAULT_MLP,
  auc,
  buildExamples,
  fitEnsemble,
  loadCoupons,
  predictMlp,
  respondentFolds,
  writeArtifact,
  type CouponRow,
  type MlpWeights,
} from '@vitrine/models/training';
import { DEFAULT_RETENTION, MemoryOutbox, MemoryProfileStore, PrivacyAccountant, createVitrine } from '@vitrine/sdk/internals';
import {
  DEFAULT_PRIVACY,
  createServer,
  decodeWeights,
  mechanism,
  openDb,
  toMlp,
  type ServerConfig,
  type StoredModel,
} from '@vitrine/server';

const { values: args } = parseArgs({
  options: {
    data: { type: 'string' },
    rounds: { type: 'string', default: '8' },
    epsilons: { type: 'string', default: '1,4,8,none' },
    seed: { type: 'string', default: '42' },
    'min-cohort': { type: 'string', default: '100' },
    'learning-rate': { type: 'string', default: String(DEFAULT_PRIVACY.learningRate) },
    'clip-norm': { type: 'string', default: String(DEFAULT_PRIVACY.clipNorm) },
    ensemble: { type: 'string', default: '10' },
    json: { type: 'boolean', default: false },
  },
});
const fail = (m: string): never => {
  console.error(`simulate: ${m}`);
  process.exit(2);
};
if (!args.data) fail('--data <coupons-train.csv> is required');
const R = Number(args.rounds);
if (!(R >= 1 && R <= 50)) fail('--rounds must be 1..50');
const epsilons = args.epsilons!.split(',').map((e) => e.trim());
if (epsilons.some((e) => e !== 'none' && !(Number(e) > 0))) fail('--epsilons: positive numbers or "none"');
const log = (s: string) => console.error(s);

let rows: CouponRow[] = [];
try {
  rows = loadCoupons(args.data!);
} catch (err) {
  fail((err as Error).message);
}
const seed = Number(args.seed);
// 20 groups of respondents: 5 seed (a quarter), 4 held out (a fifth), 11 contributors.
const group = respondentFolds(rows, 20, seededRandom(seed + 17));
const seedRows = rows.filter((_, i) => group[i] < 5);
const heldOut = rows.filter((_, i) => group[i] >= 16);
const contributorRows = rows.filter((_, i) => group[i] >= 5 && group[i] < 16);
const byShopper = new Map<string, CouponRow[]>();
for (const r of contributorRows) byShopper.set(r.respondent, [...(byShopper.get(r.respondent) ?? []), r]);
const count = (rs: CouponRow[]) => new Set(rs.map((r) => r.respondent)).size;
log(
  `simulate: ${count(seedRows)} seed respondents, ${byShopper.size} contributing shoppers, ${count(heldOut)} held out; ` +
    `${R} rounds; epsilons ${epsilons.join(', ')}`,
);

const cfg = { ...DEFAULT_MLP, seed };
const fit = (train: CouponRow[]) => fitEnsemble(train, { cfg, members: Number(args.ensemble), crosses: true, profile: true, minCount: 5 });
const evaluate = (spec: FeatureSpec, weights: MlpWeights) => {
  const te = buildExamples(heldOut, spec); // the SDK's own encoder and profile replay
  return auc(predictMlp(weights, te.x, te.n), te.y);
};

log('simulate: training the seed model (a quarter of respondents) and the central reference (seed + contributors, raw rows)');
const seedModel = await fit(seedRows);
const seedDir = mkdtempSync(join(tmpdir(), 'vitrine-sim-'));
const q = quantizeMlp(seedModel.weights, 'uint8-per-channel');
writeArtifact(seedDir, {
  name: 'coupons',
  spec: seedModel.spec,
  weights: seedModel.weights,
  tensors: q.tensors,
  float32Tensors: quantizeMlp(seedModel.weights, 'float32').tensors,
  scheme: 'uint8-per-channel',
  training: { method: 'simulation seed', respondents: count(seedRows) },
  metrics: {},
});
const seedAuc = evaluate(seedModel.spec, q.dequantized);
const central = await fit([...seedRows, ...contributorRows]);
const centralAuc = evaluate(central.spec, quantizeMlp(central.weights, 'uint8-per-channel').dequantized);
log(`simulate: seed AUC ${seedAuc.toFixed(4)}, central AUC ${centralAuc.toFixed(4)} (gain ${(centralAuc - seedAuc).toFixed(4)})`);

interface RoundRow {
  epsilon: string;
  round: number;
  current: string;
  auc: number;
  candidate_auc: number | null;
  cohort: number;
  noise_std: number;
  promoted: boolean;
  spent_epsilon: number;
}
const roundsOut: RoundRow[] = [];
const final: Record<string, number> = {};
const modelAuc = (m: StoredModel) => evaluate(m.manifest.featureSpec, toMlp(m, decodeWeights(m)));

for (const eps of epsilons) {
  const privacy = {
    ...DEFAULT_PRIVACY,
    epsilon: eps === 'none' ? 8 : Number(eps),
    noise: eps === 'none' ? ('none' as const) : ('gaussian' as const),
    contributionsPerWindow: R,
    minCohort: Math.min(Number(args['min-cohort']), byShopper.size),
    learningRate: Number(args['learning-rate']),
    clipNorm: Number(args['clip-norm']),
  };
  const config: ServerConfig = {
    port: 0,
    host: '127.0.0.1',
    seedModel: join(seedDir, 'manifest.json'),
    privacy,
    // One candidate per decision here (the survey asked about one offer at a time), so the
    // shadow and the current policy coincide on every logged event: promotion needs evidence
    // count only. The gate's power is tested where slates have several candidates.
    promotion: { minEvents: 100, margin: 0.005 },
    roundIntervalMs: 0,
    rateLimit: { max: 1e9, windowMs: 60_000 },
    bodyLimit: 64 * 1024,
    logger: false,
    // The "none" baseline turns both noises off: allowed here, and only because this is a simulation.
    allowNoiseOff: true,
  };
  const server = await createServer(config, await openDb({}));
  const base = await server.app.listen({ port: 0, host: '127.0.0.1' });
  let clock = Date.UTC(2026, 0, 1);
  const shoppers = [...byShopper].map(([id, rs]) => ({
    id,
    rows: rs,
    profile: new MemoryProfileStore(DEFAULT_RETENTION, () => clock),
    outbox: new MemoryOutbox(),
  }));
  const random = seededRandom(seed + 99);
  const bar = new SingleBar(
    { format: `epsilon ${eps.padEnd(4)} [{bar}] round {round}/${R} | {value}/{total} shoppers`, stream: process.stderr },
    Presets.shades_classic,
  );
  // Rounds 1..R: shoppers visit with the current model, send signals, the server aggregates.
  // A last visit (R+1) only gathers off-policy evidence so the last candidate can be promoted.
  for (let round = 1; round <= R + 1; round++) {
    bar.start(shoppers.length, 0, { round: Math.min(round, R) });
    for (const s of shoppers) {
      const chunk = s.rows.filter((_, i) => Math.floor((i * R) / s.rows.length) === Math.min(round, R) - 1);
      const vitrine = await createVitrine(
        {
          model: `${base}/v1/models/current`,
          endpoint: `${base}/v1`,
          consent: 'signals',
          backend: 'cpu',
          storage: 'memory',
          user: chunk[0]?.user,
          now: () => clock,
          random,
        },
        { profileStore: s.profile, outbox: s.outbox, flushDelayMs: 3_600_000 },
      );
      if (vitrine.status.degraded) fail(`SDK degraded: ${vitrine.status.degraded}`);
      // The evidence-only visit replays the shopper's last answers (for off-policy terms only).
      for (const row of chunk) {
        const d = await vitrine.rank([row.activity], { context: row.context });
        await vitrine.track(d.id, row.activity.id, row.outcome);
      }
      await vitrine.flush();
      vitrine.close();
      bar.increment();
    }
    bar.stop();
    const report = await server.aggregate();
    const current = server.registry.getCurrent()!;
    const shadow = server.registry.getShadow();
    // What the first shopper's own accountant reports it has spent (its ledger, the published parameters).
    const params = await (await fetch(`${base}/v1/privacy`)).json();
    const spent = new PrivacyAccountant(params, () => clock).report(await shoppers[0].outbox.ledger()).spent.epsilon;
    const row: RoundRow = {
      epsilon: eps,
      round,
      current: current.version,
      auc: modelAuc(current),
      candidate_auc: shadow && round <= R ? modelAuc(shadow) : null,
      cohort: report.cohort,
      noise_std: report.noiseStd,
      promoted: report.promotion?.decision === 'promoted',
      spent_epsilon: spent,
    };
    if (round <= R || row.promoted) roundsOut.push(row);
    log(
      `simulate: epsilon ${eps} round ${round}${round > R ? ' (evidence only)' : ''}: cohort ${report.cohort}, ` +
        `noise std ${report.noiseStd.toExponential(2)}, update norm ${report.updateNorm.toFixed(3)}, ` +
        `promotion ${report.promotion?.decision ?? '-'}; current AUC ${row.auc.toFixed(4)}` +
        `${row.candidate_auc !== null ? `, candidate ${row.candidate_auc.toFixed(4)}` : ''}; shopper 0 spent epsilon ${spent?.toFixed(2)}`,
    );
    // Rounds are as far apart as the published contribution spacing (30 days / rounds).
    clock += mechanism(privacy).minHoursBetween * 3_600_000;
  }
  final[eps] = modelAuc(server.registry.getCurrent()!);
  await server.close();
}

const gain = centralAuc - seedAuc;
log('\nepsilon | final AUC | share of central gain');
for (const [e, a] of Object.entries(final))
  log(`${e.padStart(7)} | ${a.toFixed(4).padStart(9)} | ${((100 * (a - seedAuc)) / gain).toFixed(1)}%`);
const out = {
  seed_auc: seedAuc,
  central_auc: centralAuc,
  rounds: roundsOut,
  final,
  share_of_central_gain: Object.fromEntries(Object.entries(final).map(([e, a]) => [e, (a - seedAuc) / gain])),
};
console.log(args.json ? JSON.stringify(out) : JSON.stringify(out, null, 1));
