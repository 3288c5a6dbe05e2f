import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { SingleBar, Presets } from 'cli-progress';
import { fitFeatureSpec } from '@vitrine/core/features';
import { COUPON_CROSSES, COUPON_DECLARATIONS, loadCoupons, type CouponRow } from './datasets/coupons';
import { buildExamples, respondentFolds } from './examples';
import { auc, logloss } from './metrics';
import { DEFAULT_MLP, predictMlp, type MlpConfig } from './mlp';
import { fitEnsemble } from './ensemble';
import { quantizeMlp, type QuantizationScheme } from '@vitrine/core/artifact';
import { DEFAULT_CONTRIBUTIONS_PER_WINDOW } from '@vitrine/core/privacy';
import { seedUpdatePrior } from './prior';
import { writeArtifact, sha256 } from './artifact';
import { seededRandom } from '@vitrine/core/random';
import { writeVectors } from './vectors';

const { values: args } = parseArgs({
  options: {
    dataset: { type: 'string', default: 'coupons' },
    data: { type: 'string' },
    out: { type: 'string', default: 'models/coupons' },
    cv: { type: 'string', default: '5' },
    hidden: { type: 'string', default: DEFAULT_MLP.hidden.join(',') },
    epochs: { type: 'string', default: String(DEFAULT_MLP.epochs) },
    lr: { type: 'string', default: String(DEFAULT_MLP.learningRate) },
    l2: { type: 'string', default: String(DEFAULT_MLP.l2) },
    seed: { type: 'string', default: String(DEFAULT_MLP.seed) },
    quantization: { type: 'string', default: 'uint8-per-channel' },
    'no-publish': { type: 'boolean', default: false },
    crosses: { type: 'string', default: 'true' },
    ensemble: { type: 'string', default: '10' },
    profile: { type: 'string', default: 'true' },
    bagging: { type: 'string', default: 'false' },
    baseline: { type: 'string' },
    'min-count': { type: 'string', default: '5' },
    json: { type: 'boolean', default: false },
  },
});

function fail(message: string): never {
  console.error(`train: ${message}`);
  process.exit(2);
}

if (args.dataset !== 'coupons') fail(`unknown --dataset ${args.dataset} (supported: coupons)`);
if (!args.data) fail('--data <csv> is required, e.g. --data ../shared/data/coupons/coupons-train.csv');
const scheme = args.quantization as QuantizationScheme;
if (!['uint8-per-channel', 'float16', 'float32'].includes(scheme)) fail(`--quantization must be uint8-per-channel, float16 or float32`);
const cfg: MlpConfig = {
  // `--hidden 0`: no hidden layer, i.e. logistic regression.
  hidden: args
    .hidden!.split(',')
    .map(Number)
    .filter((h) => h > 0),
  epochs: Number(args.epochs),
  batchSize: DEFAULT_MLP.batchSize,
  learningRate: Number(args.lr),
  l2: Number(args.l2),
  seed: Number(args.seed),
};
const k = Number(args.cv);
const members = Number(args.ensemble);
if (args.baseline && args.baseline !== 'popularity') fail('--baseline must be popularity');
if (args.baseline && !args['no-publish']) fail('--baseline only evaluates; add --no-publish');
if (!(members >= 1)) fail('--ensemble must be >= 1');

let rows: CouponRow[] = [];
try {
  rows = loadCoupons(args.data);
} catch (err) {
  fail((err as Error).message);
}
const dataSha256 = sha256(readFileSync(args.data));
const respondents = new Set(rows.map((r) => r.respondent)).size;
const log = (s: string) => console.error(s);
log(
  `train: ${rows.length} rows, ${respondents} respondents, data sha256 ${dataSha256.slice(0, 12)}, mlp ${JSON.stringify(cfg)}, ${scheme}`,
);

const totalSteps = ((k > 1 ? k : 0) + (args['no-publish'] ? 0 : 1)) * cfg.epochs * members;
const bar = new SingleBar(
  { format: 'train [{bar}] {percentage}% | {stage} | epoch {epoch} loss {loss}', stream: process.stderr, hideCursor: true },
  Presets.shades_classic,
);
bar.start(totalSteps, 0, { stage: '', epoch: 0, loss: '-' });

async function fitAndScore(train: CouponRow[], test: CouponRow[], stage: string) {
  if (args.baseline === 'popularity') {
    const decls = args.crosses !== 'false' ? [...COUPON_DECLARATIONS, ...COUPON_CROSSES] : COUPON_DECLARATIONS;
    return popularity(
      fitFeatureSpec('coupons', decls, train, { minCount: Number(args['min-count']), profile: args.profile !== 'false' }),
      test,
    );
  }
  const { spec, weights } = await fitEnsemble(train, {
    cfg,
    members,
    crosses: args.crosses !== 'false',
    profile: args.profile !== 'false',
    minCount: Number(args['min-count']),
    // Bagging: each member sees a bootstrap sample of respondents (a respondent drawn twice
    // counts as two shoppers), which decorrelates members more than seeds alone.
    rowsFor: args.bagging === 'true' && members > 1 ? (m) => bootstrap(train, seededRandom(cfg.seed + 7919 * (m + 1))) : undefined,
    onEpoch: (m, epoch, loss) =>
      bar.increment(1, { stage: `${stage}${members > 1 ? ` member ${m + 1}/${members}` : ''}`, epoch, loss: loss.toFixed(4) }),
  });
  const { tensors, dequantized } = quantizeMlp(weights, scheme);
  if (!test.length) return { spec, weights, tensors, float32Tensors: quantizeMlp(weights, 'float32').tensors };
  const te = buildExamples(test, spec);
  const pf = predictMlp(weights, te.x, te.n);
  const pq = predictMlp(dequantized, te.x, te.n);
  const after5 = Array.from(te.history)
    .map((h, i) => (h >= 5 ? i : -1))
    .filter((i) => i >= 0);
  return {
    spec,
    weights,
    tensors,
    fold: {
      n: te.n,
      auc: auc(pq, te.y),
      logloss: logloss(pq, te.y),
      auc_float32: auc(pf, te.y),
      logloss_float32: logloss(pf, te.y),
      auc_after_5: auc(
        after5.map((i) => pq[i]),
        after5.map((i) => te.y[i]),
      ),
    },
  };
}

function bootstrap(rows: CouponRow[], random: () => number): CouponRow[] {
  const byRespondent = new Map<string, CouponRow[]>();
  for (const r of rows) byRespondent.set(r.respondent, [...(byRespondent.get(r.respondent) ?? []), r]);
  const ids = [...byRespondent.keys()];
  return ids.flatMap((_, k) => {
    const id = ids[Math.floor(random() * ids.length)];
    return byRespondent.get(id)!.map((r) => ({ ...r, respondent: `${id}#${k}` }));
  });
}

/** Baseline: each offer's acceptance rate in the training folds. */
function popularity(spec: ReturnType<typeof fitFeatureSpec>, test: CouponRow[]) {
  const p = test.map((r) => spec.priors.byActivity[r.activity.id] ?? spec.priors.global);
  const y = test.map((r) => r.label);
  const fold = {
    n: test.length,
    auc: auc(p, y),
    logloss: logloss(p, y),
    auc_float32: auc(p, y),
    logloss_float32: logloss(p, y),
    auc_after_5: NaN,
  };
  bar.increment(cfg.epochs * members);
  return { spec, weights: undefined as never, tensors: [], fold };
}

const folds: Record<string, number>[] = [];
if (k > 1) {
  const assignment = respondentFolds(rows, k, seededRandom(cfg.seed + 1));
  for (let f = 0; f < k; f++) {
    const res = await fitAndScore(
      rows.filter((_, i) => assignment[i] !== f),
      rows.filter((_, i) => assignment[i] === f),
      `fold ${f + 1}/${k}`,
    );
    folds.push(res.fold!);
  }
}
const final = args['no-publish'] ? undefined : await fitAndScore(rows, [], 'final model');
bar.stop();

const mean = (key: string) => folds.reduce((s, f) => s + f[key], 0) / folds.length;
const cv = folds.length
  ? {
      folds: k,
      grouped_by: 'respondent',
      per_fold: folds,
      auc: mean('auc'),
      auc_float32: mean('auc_float32'),
      logloss: mean('logloss'),
      logloss_float32: mean('logloss_float32'),
      auc_after_5: mean('auc_after_5'),
    }
  : undefined;
if (cv) {
  log('fold |     n |   auc (q) | auc (f32) | logloss (q) | auc_after_5');
  folds.forEach((f, i) =>
    log(
      [
        String(i + 1).padStart(4),
        String(f.n).padStart(5),
        f.auc.toFixed(4).padStart(9),
        f.auc_float32.toFixed(4).padStart(9),
        f.logloss.toFixed(4).padStart(11),
        f.auc_after_5.toFixed(4),
      ].join(' | '),
    ),
  );
  const means = [cv.auc.toFixed(4).padStart(9), cv.auc_float32.toFixed(4).padStart(9), cv.logloss.toFixed(4).padStart(11)];
  log(`mean |       | ${means.join(' | ')} | ${cv.auc_after_5.toFixed(4)}`);
}

const result: Record<string, unknown> = { dataset: 'coupons', rows: rows.length, respondents, config: cfg, quantization: scheme, cv };
if (final) {
  const { version, bytes, downloadBytes } = writeArtifact(args.out!, {
    name: 'coupons',
    spec: final.spec,
    weights: final.weights,
    tensors: final.tensors,
    float32Tensors: final.float32Tensors!,
    scheme,
    training: {
      command: [
        'npm run train -- --dataset coupons --data <coupons-train.csv>',
        `--hidden ${cfg.hidden.join(',')} --epochs ${cfg.epochs} --lr ${cfg.learningRate} --l2 ${cfg.l2} --seed ${cfg.seed}`,
        `--ensemble ${members} --crosses ${args.crosses} --min-count ${args['min-count']} --quantization ${scheme}`,
      ].join(' '),
      ensemble: members,
      crosses: args.crosses !== 'false',
      bagging: args.bagging === 'true',
      minCount: Number(args['min-count']),
      dataSha256,
      rows: rows.length,
      respondents,
      config: cfg,
      featureFormat: final.spec.format,
    },
    metrics: cv ? { cv } : {},
    // The rounds' clip norms and seed Fisher, from the same rows, at the published (quantized) weights.
    updatePrior: seedUpdatePrior(rows, final.spec, quantizeMlp(final.weights, scheme).dequantized, DEFAULT_CONTRIBUTIONS_PER_WINDOW),
  });
  result.version = version;
  result.bytes = bytes;
  result.download_bytes = downloadBytes;
  log(`train: published ${args.out}/${version} (${bytes} bytes of weights, ${downloadBytes} bytes to download with the manifest)`);
  const vectors = writeVectors(`${args.out}/manifest.json`, `${args.out}/test-vectors.json`);
  log(`train: wrote ${vectors.cases.length} shared test vectors to ${args.out}/test-vectors.json`);
}
console.log(args.json ? JSON.stringify(result) : `done: ${JSON.stringify({ version: result.version, cv_auc: cv?.auc })}`);
