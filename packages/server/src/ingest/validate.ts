/** Owns checking a batch against the registry and the clock: versions, catalog, update shape and norms, time buckets. */
import { l2Norm, updateDimension, type UpdatePrior } from '@vitrine/core/privacy';
import { EVENT_WIRE_NAMES, SignalFormatError, TIME_BUCKET_HOURS, UPDATE_WIRE_NAMES, type SignalBatch } from '@vitrine/core/protocol';
import type { ModelRegistry } from '../registry/registry';
import type { StoredModel } from '../store/models';

/**
 * Ids in the published catalog only; an update only against a known version, of its dimension.
 * Errors name the wire field the client sent (`events.3.a`, `update.g`), not the named field.
 */
export async function checkAgainstRegistry(batch: SignalBatch, registry: ModelRegistry, now = Date.now()): Promise<void> {
  checkTimeBuckets(batch, now);
  const model = await registry.get(batch.model);
  if (!model) throw new SignalFormatError(`model: unknown model version "${batch.model}"`, 'model');
  if (batch.shadow && !(await registry.get(batch.shadow))) {
    throw new SignalFormatError(`shadow: unknown model version "${batch.shadow}"`, 'shadow');
  }
  const catalog = catalogOf(model);
  batch.events.forEach((e, i) => {
    const field = `events.${i}.${EVENT_WIRE_NAMES.activityId}`;
    if (!catalog.has(e.activityId)) {
      throw new SignalFormatError(`${field}: "${e.activityId}" is not an activity of the published catalog`, field);
    }
  });
  const dimension = updateDimension(model.manifest);
  if (batch.update && batch.update.gradient.length !== dimension) {
    const field = `update.${UPDATE_WIRE_NAMES.gradient}`;
    throw new SignalFormatError(`${field}: has ${batch.update.gradient.length} numbers, model ${model.version} needs ${dimension}`, field);
  }
  if (batch.update) checkNorms(batch, await registry.prior(registry.baseOf(model)));
}

/**
 * A segment report (`seg`) must name a policy version this server served with segment reports
 * asked for, and an index among its categories (its segments, then "none"): anything else is not
 * what an honest device sends, and could not be debiased.
 */
export async function checkSegmentReport(
  batch: SignalBatch,
  definitionOf: (version: string) => Promise<{ categories: number } | null>,
): Promise<void> {
  if (!batch.segment) return;
  const definition = await definitionOf(batch.segment.policy);
  if (!definition) throw new SignalFormatError('seg.v: not a policy version that asked for segment reports', 'seg.v');
  if (batch.segment.index >= definition.categories) {
    throw new SignalFormatError(
      `seg.i: that policy version has ${definition.categories} categories (0 to ${definition.categories - 1})`,
      'seg.i',
    );
  }
}

/** Events older than this (offline devices' queues) or from the future beyond clock skew are refused. */
export const MAX_EVENT_AGE_HOURS = 14 * 24;
export const MAX_CLOCK_SKEW_HOURS = 12;

/** Time buckets within [now − 14 days, now + 12 h]: nothing client-chosen reaches years away. */
function checkTimeBuckets(batch: SignalBatch, now: number): void {
  const hours = now / 3_600_000;
  batch.events.forEach((e, i) => {
    if (e.timeBucket < hours - MAX_EVENT_AGE_HOURS - TIME_BUCKET_HOURS || e.timeBucket > hours + MAX_CLOCK_SKEW_HOURS) {
      const field = `events.${i}.${EVENT_WIRE_NAMES.timeBucket}`;
      throw new SignalFormatError(`${field}: time bucket is not within 14 days before now and 12 hours after`, field);
    }
  });
}

/** An update above the published clip norms is not one an honest device sends: refused, not stored. */
function checkNorms(batch: SignalBatch, prior: UpdatePrior | null): void {
  if (!prior) throw new SignalFormatError(`update: model ${batch.model} takes no updates`, 'update');
  const tolerance = 1 + 1e-4;
  const g = l2Norm(batch.update!.gradient);
  if (!(g <= prior.clipGradient * tolerance)) {
    const field = `update.${UPDATE_WIRE_NAMES.gradient}`;
    throw new SignalFormatError(`${field}: L2 norm ${g.toPrecision(4)} is above the clip norm ${prior.clipGradient.toPrecision(4)}`, field);
  }
  const h = l2Norm(batch.update!.curvature);
  if (!(h <= prior.clipCurvature * tolerance)) {
    const field = `update.${UPDATE_WIRE_NAMES.curvature}`;
    throw new SignalFormatError(
      `${field}: L2 norm ${h.toPrecision(4)} is above the clip norm ${prior.clipCurvature.toPrecision(4)}`,
      field,
    );
  }
}

const catalogs = new WeakMap<StoredModel, Set<string>>();
/** The activity ids of a model's catalog (its activity-id vocabulary). */
export function catalogOf(model: StoredModel): Set<string> {
  let c = catalogs.get(model);
  if (!c) {
    const f = model.manifest.featureSpec.features.find((x) => x.kind === 'categorical' && x.source === 'activity' && x.key === 'id');
    c = new Set(f && 'vocab' in f ? f.vocab : []);
    catalogs.set(model, c);
  }
  return c;
}
