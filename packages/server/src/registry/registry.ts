/** Owns model rows: the only writer of models (bootstrap, publishShadow, promote, reject) and the cached reads. */
import type { Db, Queryable } from '../store/db';
import {
  insertModel,
  insertSeedModel,
  makeCurrent,
  markRejected,
  rejectCurrentShadow,
  retireCurrent,
  selectLiveModels,
  selectModel,
  selectModelHistory,
  type ModelHistoryRow,
  type StoredModel,
} from '../store/models';
import type { Candidate } from './candidate';
import { readSeedArtifact } from './seed';

/**
 * Models by status and version, with a small cache: versions are immutable.
 *
 * Every write takes an optional transaction. Without one it runs in its own transaction and
 * refreshes the cache; inside the caller's transaction the caller calls `refresh()` after the
 * commit (the cache must not see rows that could still roll back).
 */
export class ModelRegistry {
  private byVersion = new Map<string, StoredModel>();
  private current: StoredModel | null = null;
  private shadow: StoredModel | null = null;

  constructor(private readonly db: Db) {}

  /** First start: publish the trained artifact (verified by its sha256) as the current model. */
  async bootstrap(seedManifestPath: string): Promise<void> {
    await this.refresh();
    if (this.current) return;
    await insertSeedModel(this.db, readSeedArtifact(seedManifestPath));
    await this.refresh();
  }

  /** A round's candidate becomes the shadow model; the previous shadow, if any, is rejected. */
  async publishShadow(candidate: Candidate, round: number, tx?: Queryable): Promise<void> {
    await this.write(tx, async (q) => {
      await rejectCurrentShadow(q);
      await insertModel(q, candidate, 'shadow', candidate.parent, round);
    });
  }

  /** The shadow becomes the current model; the current one is retired. */
  async promote(shadow: StoredModel, tx?: Queryable): Promise<void> {
    await this.write(tx, async (q) => {
      await retireCurrent(q);
      await makeCurrent(q, shadow.version);
    });
  }

  /** The shadow is rejected: devices stop reporting on it. */
  async reject(shadow: StoredModel, tx?: Queryable): Promise<void> {
    await this.write(tx, (q) => markRejected(q, shadow.version));
  }

  async refresh(): Promise<void> {
    const live = await selectLiveModels(this.db);
    this.current = null;
    this.shadow = null;
    for (const m of live) {
      this.byVersion.set(m.version, m);
      if (m.status === 'current') this.current = m;
      else this.shadow = m;
    }
  }

  getCurrent(): StoredModel | null {
    return this.current;
  }

  getShadow(): StoredModel | null {
    return this.shadow;
  }

  async get(version: string): Promise<StoredModel | null> {
    const hit = this.byVersion.get(version);
    if (hit) return hit;
    const m = await selectModel(this.db, version);
    if (m) this.byVersion.set(version, m);
    return m;
  }

  /** The 50 newest versions, newest first. */
  async history(): Promise<ModelHistoryRow[]> {
    return selectModelHistory(this.db, 50);
  }

  private async write(tx: Queryable | undefined, fn: (q: Queryable) => Promise<void>): Promise<void> {
    if (tx) return fn(tx);
    await this.db.transaction(fn);
    await this.refresh();
  }
}
