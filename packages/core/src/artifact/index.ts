export { MODEL_FORMAT, ManifestSchema, parseManifest, type ModelManifest, type TensorEntry } from './manifest';
export { dequantize, halfToFloat } from './dequantize';
export { quantizeMlp, type QuantizationScheme, type QuantizedTensor } from './quantize';
export { pack } from './pack';
export { referenceScores } from './reference';
export type { MlpWeights } from './mlp-weights';
export {
  SIGNATURE_ALG,
  canonicalJson,
  signingBytes,
  importPublicKey,
  importSigningKey,
  generateSigningKeyPair,
  signManifest,
  verifyManifestSignature,
  weightsDigest,
  contentLabel,
  checkVersionLabel,
  type ManifestSignature,
  type PinnedKey,
  type SigningKey,
  type SignatureCheck,
  type PublicationRole,
  type SignedPublication,
} from './signature';
