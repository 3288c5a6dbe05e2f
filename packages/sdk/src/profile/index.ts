import { IdbProfileStore } from './idb-store';
import { MemoryProfileStore } from './memory-store';
import { ResilientProfileStore, type StorageChange } from './resilient-store';
import type { ProfileStore } from './store';
import type { StorageOption } from '../types';

export * from './store';
export { MemoryProfileStore } from './memory-store';
export { IdbProfileStore } from './idb-store';
export { ResilientProfileStore, type StorageChange } from './resilient-store';

/** What the profile store tells its owner: records repaired on read, and persistence failing or working again. */
export interface ProfileStoreEvents {
  onRepair: (reason: string) => void;
  onChange: StorageChange;
}

/** IndexedDB when it works, memory otherwise; the reason for a fallback is returned, not thrown. */
export async function openProfileStore(
  kind: StorageOption,
  now: () => number,
  events: ProfileStoreEvents = { onRepair: () => undefined, onChange: () => undefined },
): Promise<{ store: ProfileStore; warning?: string }> {
  if (kind === 'memory') return { store: new MemoryProfileStore(undefined, now) };
  try {
    const persistent = await IdbProfileStore.open(undefined, now, events.onRepair);
    return { store: new ResilientProfileStore(persistent, events.onChange, now) };
  } catch (err) {
    const detail = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    return { store: new MemoryProfileStore(undefined, now), warning: `IndexedDB unavailable, profile kept in memory (${detail})` };
  }
}
