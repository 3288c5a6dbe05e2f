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
import type { ModelManifest, PublicationRole, SigningKey } from '@vitrine/core/artifact';
import {
  insertPublication,
  nextSequence,
  selectLatestPublications,
  selectPublicationHistory,
  type Publication,
} from '../store/publications';
import { loadSigningKey, signPublication, type SigningConfig } from './signing';

/** Why a rollback was refused; the admin route answers with `status`. */
export class RollbackError extends Error {
  constructor(
    readonly status: 404 | 409,
    message: string,
  ) {
    super(message);
  }
}

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
  /** The key every publish is signed with; null: manifests are served unsigned (tests, VITRINE_UNSIGNED_MODELS=1). */
  private key: SigningKey | null = null;

  constructor(
    private readonly db: Db,
    private readonly signing?: SigningConfig,
  ) {}

  /**
   * First start: publish the trained artifact (verified by its sha256) as the current model. With
   * a signing key, the live models get a signed publication when they have none by this key (first
   * start, a store from before signing, a new key): the seed is signed here, never in git.
   */
  async bootstrap(seedManifestPath: string): Promise<void> {
    this.key = await loadSigningKey(this.signing);
    await this.refresh();
    if (!this.current) await insertSeedModel(this.db, readSeedArtifact(seedManifestPath));
    // Also on a store made before priors existed: the seed's prior is added once.
    const prior = readSeedPrior(seedManifestPath);
    if (prior) await insertUpdatePrior(this.db, prior);
    await this.refresh();
    const key = this.key;
    // Also a publication signed before manifests named their role: a pinning SDK refuses those.
    const unsigned = [this.current, this.shadow].filter(
      (m): m is StoredModel => !!m && !!key && (m.published?.keyId !== key.keyId || publishedRole(m) !== roleOf(m)),
    );
    if (unsigned.length) {
      await this.write(undefined, async (q) => {
        for (const m of unsigned) await this.publish(q, m.manifest, roleOf(m));
      });
    }
  }

  /** Id and public key (SPKI base64) of the signing key, or null when unsigned. */
  signingKey(): { keyId: string; publicKeySpki: string } | null {
    return this.key ? { keyId: this.key.keyId, publicKeySpki: this.key.publicKeySpki } : null;
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

  /**
   * A round's candidate becomes the shadow model; the previous shadow, if any, is rejected.
   * Refused (the round's transaction rolls back) when its parent is no longer current: a rollback
   * committed while the round was computing.
   */
  async publishShadow(candidate: Candidate, round: number, tx?: Queryable): Promise<void> {
    await this.write(tx, async (q) => {
      await lockModels(this.db, q);
      const current = await selectCurrent(q);
      if (current?.version !== candidate.parent) {
        throw new Error(`round: the current model is now ${current?.version ?? 'none'}, not ${candidate.parent} (a rollback?)`);
      }
      await rejectCurrentShadow(q);
      await insertModel(q, candidate, 'shadow', candidate.parent, round);
      await this.publish(q, candidate.manifest, 'shadow');
    });
  }

  /** The shadow becomes the current model; the current one is retired. Refused when it is no longer the shadow (a rollback rejected it). */
  async promote(shadow: StoredModel, tx?: Queryable): Promise<void> {
    await this.write(tx, async (q) => {
      await lockModels(this.db, q);
      const now = await selectModel(q, shadow.version);
      if (now?.status !== 'shadow') throw new Error(`promotion: ${shadow.version} is ${now?.status ?? 'gone'}, no longer the shadow`);
      await retireCurrent(q);
      await makeCurrent(q, shadow.version);
      await this.publish(q, shadow.manifest, 'current');
    });
  }

  /**
   * A signed rollback: the retired `version` (a former current model) becomes current again under
   * a new, higher sequence with `rollbackOf` naming the version it replaces, which is retired; the
   * shadow (learned on the replaced model) is rejected. Needs a signing key: an unsigned rollback
   * would look to a pinning client like any stale manifest.
   */
  async rollback(version: string): Promise<{ version: string; sequence: number; rollbackOf: string }> {
    if (!this.key) throw new RollbackError(409, 'rollback: the server has no signing key (a rollback must be a signed publication)');
    let result: { version: string; sequence: number; rollbackOf: string } | undefined;
    await this.write(undefined, async (q) => {
      // Current and target are read under the lock every publish (rounds, promotions) takes, in
      // this transaction: neither the cache nor a read before it can be stale by the time we write.
      await lockModels(this.db, q);
      const target = await selectModel(q, version);
      if (!target) throw new RollbackError(404, `version: no model ${version}`);
      const current = await selectCurrent(q);
      if (!current) throw new RollbackError(409, 'rollback: there is no current model');
      if (target.version === current.version) throw new RollbackError(409, `version: ${version} is already current`);
      if (target.status !== 'retired') {
        throw new RollbackError(
          409,
          `version: ${version} is ${target.status}; only a retired (formerly current) version can be rolled back to`,
        );
      }
      await rejectCurrentShadow(q);
      await retireCurrent(q);
      await makeCurrent(q, target.version);
      const sequence = await this.publish(q, target.manifest, 'current', current.version);
      result = { version: target.version, sequence, rollbackOf: current.version };
    });
    return result!;
  }

  /** The newest publications (sequence, version, role, key id, rollbackOf), newest first. */
  async publications(limit = 20): Promise<Omit<Publication, 'manifest'>[]> {
    return selectPublicationHistory(this.db, limit);
  }

  /** Signs `manifest` for `role` under the next sequence and records it; returns the sequence (0 when unsigned). */
  private async publish(q: Queryable, manifest: ModelManifest, role: PublicationRole, rollbackOf?: string): Promise<number> {
    if (!this.key) return 0;
    // Two servers on one PostgreSQL must not hand out one sequence twice (the primary key would refuse it anyway).
    await lockModels(this.db, q);
    const sequence = await nextSequence(q);
    const signed = await signPublication(this.key, manifest, { sequence, role, ...(rollbackOf ? { rollbackOf } : {}) });
    await insertPublication(q, {
      sequence,
      version: manifest.version,
      role,
      manifest: JSON.stringify(signed),
      keyId: this.key.keyId,
      rollbackOf: rollbackOf ?? null,
    });
    return sequence;
  }

  /** The shadow is rejected: devices stop reporting on it. */
  async reject(shadow: StoredModel, tx?: Queryable): Promise<void> {
    await this.write(tx, (q) => markRejected(q, shadow.version));
  }

  async refresh(): Promise<void> {
    const live = await this.withPublications(await selectLiveModels(this.db));
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
    const found = await selectModel(this.db, version);
    if (!found) return null;
    const [m] = await this.withPublications([found]);
    this.byVersion.set(version, m);
    return m;
  }

  private async withPublications(models: StoredModel[]): Promise<StoredModel[]> {
    const pubs = new Map(
      (
        await selectLatestPublications(
          this.db,
          models.map((m) => m.version),
        )
      ).map((p) => [p.version, p]),
    );
    return models.map((m) => {
      const p = pubs.get(m.version);
      return p ? { ...m, published: { sequence: p.sequence, json: p.manifest, keyId: p.keyId, rollbackOf: p.rollbackOf } } : m;
    });
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

/**
 * The lock every change of the live models and every publish takes, until its transaction ends:
 * rounds, promotions, rollbacks and re-signing on two servers sharing one PostgreSQL run one at a
 * time. Taking it again in the same transaction is a no-op. PGlite runs one transaction at a time.
 */
async function lockModels(db: Db, q: Queryable): Promise<void> {
  if (db.kind === 'postgres') await q.query('select pg_advisory_xact_lock(7463730)');
}

/** The current model as this transaction sees it (not the cache). */
async function selectCurrent(q: Queryable): Promise<StoredModel | null> {
  return (await selectLiveModels(q)).find((m) => m.status === 'current') ?? null;
}

/** The role a live model is published for. */
function roleOf(m: StoredModel): PublicationRole {
  return m.status === 'shadow' ? 'shadow' : 'current';
}

/** The role its newest signed publication names, if any (publications from before roles name none). */
function publishedRole(m: StoredModel): unknown {
  if (!m.published) return undefined;
  try {
    return (JSON.parse(m.published.json) as { role?: unknown }).role;
  } catch {
    return undefined;
  }
}
