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
import { readSeedArtifact, readSeedPrior } from './seed';
import type { UpdatePrior } from '@vitrine/core/privacy';
import { insertUpdatePrior, selectUpdatePrior } from '../store/learning';

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
  private priors = new Map<string, UpdatePrior | null>();

  constructor(private readonly db: Db) {}

  /** First start: publish the trained artifact (verified by its sha256) as the current model. */
  async bootstrap(seedManifestPath: string): Promise<void> {
    await this.refresh();
    if (!this.current) await insertSeedModel(this.db, readSeedArtifact(seedManifestPath));
    // Also on a store made before priors existed: the seed's prior is added once.
    const prior = readSeedPrior(seedManifestPath);
    if (prior) await insertUpdatePrior(this.db, prior);
    await this.refresh();
  }

  /** The update prior of a base (seed) version, or null when it was published without one. */
  async prior(base: string): Promise<UpdatePrior | null> {
    if (!this.priors.has(base)) this.priors.set(base, await selectUpdatePrior(this.db, base));
    return this.priors.get(base)!;
  }

  /** The frozen base a version's head is learned on: its manifest's head.base, or itself. */
  baseOf(model: StoredModel): string {
    return model.manifest.head?.base ?? model.version;
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
