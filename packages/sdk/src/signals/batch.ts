import { toHex } from '@vitrine/core/bytes';
import { sufficientStatistics } from '@vitrine/core/privacy';
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
  /** Cryptographically random bytes: batch ids. */
  randomBytes: (n: number) => Uint8Array;
}

export interface NewBatch {
  /** Version of the model that ranks the events. */
  model: string;
  /** Version of the shadow model the shadow propensities refer to. */
  shadow?: string;
  /** Whether the batch carries an update (its privacy cost is charged when it opens). */
  withUpdate: boolean;
  /** The tab that opens it (see OutboxItem.owner). */
  owner: string;
}

export function openBatch({ model, shadow, withUpdate, owner }: NewBatch, env: BatchEnv): OutboxItem {
  const now = env.now();
  return {
    id: toHex(env.randomBytes(16)),
    state: 'open',
    model,
    ...(shadow ? { shadow } : {}),
    events: [],
    withUpdate,
    owner,
    touchedAt: now,
    attempts: 0,
    nextAt: 0,
    createdAt: now,
  };
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
export function recordOutcome(item: OutboxItem, outcome: Outcome): void {
  addEvent(item, outcomeEvent(outcome));
}

/** The event of an outcome, with the placement's head example (kept only by a batch with an update). */
export function outcomeEvent({ key, activityId, placement, reward, at, withShadow }: Outcome): OpenEvent {
  const event: OpenEvent = { key, activityId, slot: placement.slot, propensity: placement.propensity, reward, timeBucket: timeBucket(at) };
  if (placement.shadowPropensity !== undefined && withShadow) event.shadowPropensity = placement.shadowPropensity;
  if (placement.example) event.example = placement.example;
  if (placement.control) event.control = true;
  return event;
}

/** Adds an event, or raises the reward of the batch's event of the same placement; a batch without an update keeps no example. */
export function addEvent(item: OutboxItem, { example, ...event }: OpenEvent): void {
  const existing = item.events.find((e) => e.key === event.key);
  if (existing) {
    existing.reward = Math.max(existing.reward, event.reward);
    return;
  }
  item.events.push(example && item.withUpdate ? { ...event, example } : event);
}

export interface SealContext {
  /** The model the device ranks with now: an update is only computed for batches of this version. */
  modelVersion: string;
  /** Null before the privacy parameters arrived: the batch is sealed without an update. */
  params: PrivacyParameters | null;
}

/**
 * Builds the exact body: the events without their keys and head examples, plus the update:
 * the clipped gradient and curvature sums of the events' log loss (6 significant digits).
 * Deterministic, so a batch sealed again after a crash carries the same bytes (and the server
 * keeps one copy).
 */
export function sealBatch(item: OutboxItem, { modelVersion, params }: SealContext): OutboxItem {
  const examples = item.events.filter((e) => e.example).map((e) => ({ example: e.example!, reward: e.reward }));
  let update: ModelUpdate | undefined;
  if (item.withUpdate && examples.length && params && item.model === modelVersion) {
    const u = params.update;
    const stats = sufficientStatistics(examples, u.dimension, u.clipGradient, u.clipCurvature);
    update = { gradient: digits(stats.gradient), curvature: digits(stats.curvature), examples: examples.length };
  }
  const events = item.events.map(({ key: _key, example: _x, ...event }) => event);
  const batch: SignalBatch = {
    format: SIGNALS_FORMAT,
    id: item.id,
    model: item.model,
    ...(item.shadow && events.some((e) => e.shadowPropensity !== undefined) ? { shadow: item.shadow } : {}),
    events,
    ...(update ? { update } : {}),
    // The segment report's cost was charged with the update: it never travels without one.
    ...(update && item.segment ? { segment: item.segment } : {}),
  };
  return { ...item, state: 'sealed', events: [], body: batchToWire(batch) };
}

/** 6 significant digits, rounded toward zero so that rounding never lifts a norm above its clip. */
function digits(v: Float64Array): number[] {
  return Array.from(v, (x) => {
    if (x === 0) return 0;
    const scale = 10 ** (5 - Math.floor(Math.log10(Math.abs(x))));
    return Math.trunc(x * scale) / scale;
  });
}
