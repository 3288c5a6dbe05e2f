import { DB_NAME } from './idb-store';
import { ResilientProfileStore } from './resilient-store';
import type { ProfileStore } from './store';
import { deleteDatabase } from '../platform';
import { emptyAggregates, type ProfileAggregates } from '@vitrine/core/features';
import { MemoryProfileStore } from './memory-store';
import { DEFAULT_RETENTION } from './store';
import type { Consent, VitrineStatus } from '../types';

/** The parts of the client that switching profile stores touches (see VitrineClient). */
export interface ProfileHost {
  store: ProfileStore;
  profile: ProfileAggregates;
  status: VitrineStatus;
  readonly consent: Consent;
  readonly closed: boolean;
  readonly now: () => number;
  readonly openStore: () => Promise<{ store: ProfileStore; warning?: string }>;
  readonly decisions: { dropPersonalInputs(): void };
  readonly policy?: { profileErased(): void };
  storageChanged(failure: string | null): void;
  loadProfile(): Promise<void>;
}

/** Consent 'none': the stored profile goes (its database too); nothing is kept until consent is given again. */
export async function eraseProfile(host: ProfileHost): Promise<void> {
  host.profile = emptyAggregates();
  host.policy?.profileErased();
  host.decisions.dropPersonalInputs();
  const store = host.store;
  host.store = new MemoryProfileStore(DEFAULT_RETENTION, host.now);
  host.storageChanged(null);
  host.status = { ...host.status, profile: 'none' };
  await eraseStore(store);
  store.close();
  try {
    localStorage.removeItem('vitrine.holdout'); // a sticky holdout arm (policy/rules.ts ARM_KEY): nothing stays under 'none'
  } catch {
    /* no storage */
  }
}

/** Consent given again after 'none': the profile store opens (empty: 'none' erased it). */
export async function reopenStore(host: ProfileHost): Promise<void> {
  const { store, warning } = await host.openStore();
  if (host.consent === 'none' || host.closed) {
    store.close();
    return;
  }
  // Outcomes tracked while the store opened went to the placeholder: they move over.
  const early = await host.store.events();
  host.store = store;
  host.status = { ...host.status, profile: store.kind, warnings: warning ? [...host.status.warnings, warning] : host.status.warnings };
  await host.loadProfile();
  host.policy?.profileErased();
  for (const event of early) host.profile = await host.store.append(event);
}

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
