import { DB_NAME } from './idb-store';
import { ResilientProfileStore } from './resilient-store';
import type { ProfileStore } from './store';
import { deleteDatabase } from '../platform';

// A lazy chunk (forget() and consent 'none' import it): erasing is rare, the first download is not.

/**
 * Clears a store and, when it is backed by IndexedDB (even while its writes fail and it says
 * 'memory'), deletes its database whatever clear() did.
 */
export async function eraseStore(store: ProfileStore): Promise<void> {
  const backedByIdb = (store instanceof ResilientProfileStore ? store.persistentKind : store.kind) === 'indexeddb';
  try {
    await store.clear();
  } catch (err) {
    if (!backedByIdb) throw err;
  }
  // Our own connection steps aside on the delete's versionchange.
  if (backedByIdb) await deleteDatabase(DB_NAME);
}
