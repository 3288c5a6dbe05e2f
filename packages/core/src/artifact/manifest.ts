import * as v from 'valibot';
import { FEATURE_FORMAT, specDimension, type FeatureSpec } from '../features/spec';

export const MODEL_FORMAT = 'vitrine-model@1';

const Hex64 = v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/, 'must be a lowercase hex sha256'));
const PositiveInt = v.pipe(v.number(), v.integer(), v.minValue(0));

const Source = v.picklist(['context', 'user', 'activity']);
const Declaration = v.object({ kind: v.picklist(['categorical', 'numeric']), source: Source, key: v.string() });
const FeatureSchema = v.variant('kind', [
  v.object({ kind: v.literal('categorical'), source: Source, key: v.string(), vocab: v.array(v.string()) }),
  v.object({ kind: v.literal('numeric'), source: Source, key: v.string(), mean: v.number(), std: v.number() }),
  v.object({
    kind: v.literal('cross'),
    source: v.literal('cross'),
    key: v.string(),
    parts: v.tuple([Declaration, Declaration]),
    vocab: v.array(v.string()),
  }),
]);
const Rates = v.record(v.string(), v.pipe(v.number(), v.minValue(0), v.maxValue(1)));

const QuantSchema = v.object({
  /** Axis along which scale/zero point vary (per-channel); absent means per-tensor. */
  axis: v.optional(PositiveInt),
  scale: v.array(v.number()),
  /** Real value of the integer 0 (uint8 affine: w = min + q * scale). */
  min: v.optional(v.array(v.number())),
});

export const ManifestSchema = v.object({
  format: v.literal(MODEL_FORMAT),
  name: v.string(),
  version: v.pipe(v.string(), v.minLength(1)),
  createdAt: v.optional(v.string()),
  featureSpec: v.object({
    format: v.literal(FEATURE_FORMAT),
    name: v.string(),
    features: v.array(FeatureSchema),
    profile: v.boolean(),
    priors: v.object({ global: v.pipe(v.number(), v.minValue(0), v.maxValue(1)), byType: Rates, byActivity: Rates, byAttribute: Rates }),
    dimension: PositiveInt,
  }),
  architecture: v.object({
    kind: v.literal('mlp'),
    layers: v.pipe(
      v.array(v.object({ units: v.pipe(PositiveInt, v.minValue(1)), activation: v.picklist(['relu', 'linear', 'sigmoid']) })),
      v.minLength(1),
    ),
  }),
  files: v.pipe(v.array(v.object({ path: v.string(), bytes: PositiveInt, sha256: Hex64 })), v.minLength(1)),
  tensors: v.array(
    v.object({
      name: v.string(),
      file: PositiveInt,
      offset: PositiveInt,
      shape: v.array(PositiveInt),
      dtype: v.picklist(['float32', 'float16', 'uint8', 'int8']),
      quant: v.optional(QuantSchema),
    }),
  ),
  quantization: v.optional(v.record(v.string(), v.unknown())),
  /**
   * Set on versions a round published: the first `frozenUnits` hidden units are the frozen MLP of
   * version `base`, and the last two carry the residual head learned from devices' signals.
   */
  head: v.optional(v.object({ base: v.pipe(v.string(), v.minLength(1)), frozenUnits: PositiveInt })),
  training: v.optional(v.record(v.string(), v.unknown())),
  metrics: v.optional(v.record(v.string(), v.unknown())),
  /** Raised by the server at every publish; a client refuses a lower one than it accepted before (signature.ts). */
  sequence: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(Number.MAX_SAFE_INTEGER))),
  /** The channel this publication was signed for (signature.ts): a verifier requires the one it loads. */
  role: v.optional(v.picklist(['current', 'shadow'])),
  /** Set when an older version is republished as current: the version it replaces. */
  rollbackOf: v.optional(v.pipe(v.string(), v.minLength(1))),
  /** ECDSA P-256 signature of everything else (signature.ts); checked by clients that pin the key. */
  signature: v.optional(
    v.object({
      alg: v.literal('ES256'),
      keyId: v.pipe(v.string(), v.regex(/^[0-9a-f]{16}$/, 'must be 16 lowercase hex digits')),
      value: v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]+$/, 'must be base64url')),
    }),
  ),
});

export type ModelManifest = v.InferOutput<typeof ManifestSchema> & { featureSpec: FeatureSpec };
export type TensorEntry = ModelManifest['tensors'][number];

/** Validates shape and internal consistency; throws an Error naming the first problem. */
export function parseManifest(json: unknown): ModelManifest {
  const result = v.safeParse(ManifestSchema, json);
  if (!result.success) {
    const issue = result.issues[0];
    const path = v.getDotPath(issue) ?? '(root)';
    throw new Error(`manifest.${path}: ${issue.message}`);
  }
  const m = result.output as ModelManifest;
  const dim = specDimension(m.featureSpec.features, m.featureSpec.profile);
  if (dim !== m.featureSpec.dimension)
    throw new Error(`manifest.featureSpec.dimension is ${m.featureSpec.dimension}, features add up to ${dim}`);
  let inputs = dim;
  m.architecture.layers.forEach((layer, i) => {
    const kernel = m.tensors.find((t) => t.name === `layers.${i}.kernel`);
    const bias = m.tensors.find((t) => t.name === `layers.${i}.bias`);
    if (!kernel || !bias) throw new Error(`manifest.tensors: layers.${i}.kernel and layers.${i}.bias are required`);
    if (kernel.shape.join() !== `${inputs},${layer.units}`)
      throw new Error(`manifest.tensors: layers.${i}.kernel shape ${kernel.shape} != [${inputs},${layer.units}]`);
    if (bias.shape.join() !== `${layer.units}`)
      throw new Error(`manifest.tensors: layers.${i}.bias shape ${bias.shape} != [${layer.units}]`);
    inputs = layer.units;
  });
  if (inputs !== 1) throw new Error('manifest.architecture: the last layer must have 1 unit');
  for (const t of m.tensors) if (t.file >= m.files.length) throw new Error(`manifest.tensors.${t.name}.file points past files[]`);
  return m;
}
