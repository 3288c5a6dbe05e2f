import { toHex } from '@vitrine/core/bytes';
import { clippedNoisedGradient, gaussian, seededUniform } from '@vitrine/core/privacy';
import {
  SIGNALS_FORMAT,
  batchToWire,
  timeBucket,
  type ModelUpdate,
  type PrivacyParameters,
  type SignalBatch,
} from '@vitrine/core/protocol';
import type { OpenEvent, OutboxItem } from './outbox';
import type { Placement } from './placement';

/** Batch building depends on nothing else: the clock and the random source come in here. */
export interface BatchEnv {
  now: () => number;
  /** Cryptographically random bytes: batch ids and noise seeds. */
  randomBytes: (n: number) => Uint8Array;
}

export interface NewBatch {
  /** Version of the model that ranks the events. */
  model: string;
  /** Version of the shadow model the shadow propensities refer to. */
  shadow?: string;
  /** Whether the batch carries an update (its privacy cost is charged when it opens). */
  withUpdate: boolean;
}

export function openBatch({ model, shadow, withUpdate }: NewBatch, env: BatchEnv): OutboxItem {
  return {
    id: toHex(env.randomBytes(16)),
    state: 'open',
    model,
    ...(shadow ? { shadow } : {}),
    events: [],
    withUpdate,
    ...(withUpdate ? { noiseSeed: uint32s(env.randomBytes(16)) } : {}),
    attempts: 0,
    nextAt: 0,
    createdAt: env.now(),
  };
}

function uint32s(bytes: Uint8Array): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Array.from({ length: bytes.byteLength >> 2 }, (_, i) => view.getUint32(i * 4, true));
}

export interface Outcome {
  /** `decisionId:activityId`. */
  key: string;
  activityId: string;
  placement: Placement;
  reward: number;
  /** When it happened (only its 6-hour bucket is kept). */
  at: number;
  /** Whether the batch's shadow propensities may be kept (a shadow model is loaded). */
  withShadow: boolean;
}

/** One event per placed item: a later, better outcome of the same placement raises its reward. */
export function recordOutcome(item: OutboxItem, { key, activityId, placement, reward, at, withShadow }: Outcome): void {
  const existing = item.events.find((e) => e.key === key);
  if (existing) {
    existing.reward = Math.max(existing.reward, reward);
    return;
  }
  const event: OpenEvent = { key, activityId, slot: placement.slot, propensity: placement.propensity, reward, timeBucket: timeBucket(at) };
  if (placement.shadowPropensity !== undefined && withShadow) event.shadowPropensity = placement.shadowPropensity;
  if (placement.preActivations && item.withUpdate) event.preActivations = Array.from(placement.preActivations);
  item.events.push(event);
}

export interface SealContext {
  /** The model the device ranks with now: an update is only computed for batches of this version. */
  modelVersion: string;
  weights: Map<string, Float32Array>;
  /** Null before the privacy parameters arrived: the batch is sealed without an update. */
  params: PrivacyParameters | null;
}

/**
 * Builds the exact body: the events without their keys and pre-activations, plus the clipped,
 * noised update. Deterministic: the noise is drawn from the seed stored with the batch, so a
 * batch sealed again after a crash carries the same bytes (and the server keeps one copy).
 */
export function sealBatch(item: OutboxItem, { modelVersion, weights, params }: SealContext): OutboxItem {
  const examples = item.events.filter((e) => e.preActivations).map((e) => ({ z: Float32Array.from(e.preActivations!), y: e.reward }));
  let update: ModelUpdate | undefined;
  if (item.withUpdate && item.noiseSeed && examples.length && params && item.model === modelVersion) {
    const normal = gaussian(seededUniform(item.noiseSeed));
    const { vector } = clippedNoisedGradient(weights, examples, params.update.clipNorm, params.update.localNoiseStd, normal);
    update = { gradient: vector.map((x) => Number(x.toPrecision(6))), examples: examples.length };
  }
  const events = item.events.map(({ key: _key, preActivations: _z, ...event }) => event);
  const batch: SignalBatch = {
    format: SIGNALS_FORMAT,
    id: item.id,
    model: item.model,
    ...(item.shadow && events.some((e) => e.shadowPropensity !== undefined) ? { shadow: item.shadow } : {}),
    events,
    ...(update ? { update } : {}),
  };
  return { ...item, state: 'sealed', events: [], body: batchToWire(batch) };
}
