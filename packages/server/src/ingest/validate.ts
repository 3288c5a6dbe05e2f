/** Owns checking a parsed batch against the registry: known versions, the published catalog, the update's dimension. */
import { updateDimension } from '@vitrine/core/privacy';
import { EVENT_WIRE_NAMES, SignalFormatError, UPDATE_WIRE_NAMES, type SignalBatch } from '@vitrine/core/protocol';
import type { ModelRegistry } from '../registry/registry';
import type { StoredModel } from '../store/models';

/**
 * Ids in the published catalog only; an update only against a known version, of its dimension.
 * Errors name the wire field the client sent (`events.3.a`, `update.g`), not the named field.
 */
export async function checkAgainstRegistry(batch: SignalBatch, registry: ModelRegistry): Promise<void> {
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
}

const catalogs = new WeakMap<StoredModel, Set<string>>();
function catalogOf(model: StoredModel): Set<string> {
  let c = catalogs.get(model);
  if (!c) {
    const f = model.manifest.featureSpec.features.find((x) => x.kind === 'categorical' && x.source === 'activity' && x.key === 'id');
    c = new Set(f && 'vocab' in f ? f.vocab : []);
    catalogs.set(model, c);
  }
  return c;
}
