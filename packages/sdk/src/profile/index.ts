import { IdbProfileStore } from './idb-store';
import { MemoryProfileStore } from './memory-store';
import type { ProfileStore } from './store';
import type { StorageOption } from '../types';

export * from './store';
export { MemoryProfileStore } from './memory-store';
export { IdbProfileStore } from './idb-store';

/** IndexedDB when it works, memory otherwise; the reason for a fallback is returned, not thrown. */
export async function openProfileStore(kind: StorageOption, now: () => number): Promise<{ store: ProfileStore; warning?: string }> {
  if (kind === 'memory') return { store: new MemoryProfileStore(undefined, now) };
  try {
    return { store: await IdbProfileStore.open(undefined, now) };
  } catch (err) {
    const detail = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    return { store: new MemoryProfileStore(undefined, now), warning: `IndexedDB unavailable, profile kept in memory (${detail})` };
  }
}
