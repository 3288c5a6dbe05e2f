import { VitrineError, toVitrineError } from './errors';
import { FeatureEncoder } from './features/encode';
import { defaultLoaderEnv, loadModel, MODEL_CACHE, type LoadedModel } from './model/loader';
import { chooseSlate } from './policy/epsilon-greedy';
import { isEligible, toTime } from './policy/eligibility';
import { explain } from './policy/explain';
import { activityAttributes, coarseHour, emptyAggregates, type ProfileAggregates, type ProfileEvent } from './profile/aggregate';
import { DB_NAME } from './profile/idb-store';
import { MemoryProfileStore } from './profile/memory-store';
import { openProfileStore } from './profile/index';
import { DEFAULT_RETENTION, type ProfileExport, type ProfileStore } from './profile/store';
import type { Scorer } from './scoring/scorer';
import { validateOptions, validateRank, validateTrack, validateUser } from './validate';
import type { Activity, Decision, FeatureRecord, Outcome, RankedItem, RankOptions, VitrineOptions, VitrineStatus } from './types';

const DEFAULT_EPSILON = 0.05;
const DECISIONS_KEPT = 500;
/** Bound on remembered placements across decisions (memory stays flat for huge candidate lists). */
const PLACEMENTS_KEPT = 20_000;

/** Hands a rejected promise to the caller while keeping fire-and-forget calls from raising `unhandledrejection`. */
function settled<T>(p: Promise<T>, report: (e: VitrineError) => void): Promise<T> {
  p.catch((e: VitrineError) => report(e));
  return p;
}

interface StoredDecision { activities: Map<string, Activity> }

export interface Vitrine {
  readonly status: VitrineStatus;
  rank(activities: Activity[], options?: RankOptions): Promise<Decision>;
  track(decisionId: string, activityId: string, outcome: Outcome): Promise<void>;
  /** Replaces the shopper's attributes (sign-in, sign-out); they never leave the device. */
  setUser(user: FeatureRecord): Promise<void>;
  exportProfile(): Promise<ProfileExport>;
  forget(): Promise<void>;
  close(): void;
}

class VitrineClient implements Vitrine {
  status: VitrineStatus;
  private profile: ProfileAggregates = emptyAggregates();
  private decisions = new Map<string, StoredDecision>();
  private placements = 0;
  private user: FeatureRecord;
  private readonly random: () => number;
  private readonly now: () => number;
  private readonly epsilon: number;
  private closed = false;

  constructor(
    private readonly options: VitrineOptions,
    private store: ProfileStore,
    private readonly model: LoadedModel | null,
    private readonly scorer: Scorer | null,
    private readonly encoder: FeatureEncoder | null,
    status: VitrineStatus,
  ) {
    this.status = status;
    this.user = { ...(options.user ?? {}) };
    this.random = options.random ?? defaultRandom;
    this.now = options.now ?? Date.now;
    this.epsilon = options.epsilon ?? DEFAULT_EPSILON;
  }

  async loadProfile(): Promise<void> {
    try {
      this.profile = await this.store.load();
    } catch (err) {
      await this.toMemory(err);
    }
  }

  private report = (err: VitrineError): void => {
    try {
      this.options.onError?.(err);
    } catch { /* a throwing callback must not break us either */ }
  };

  /** IndexedDB failed at runtime (quota, lost for good): keep going in memory and say so. */
  private async toMemory(err: unknown): Promise<void> {
    const reason = `profile storage failed, kept in memory from now on (${(err as Error)?.message ?? err})`;
    this.store.close();
    this.store = new MemoryProfileStore(DEFAULT_RETENTION, this.now);
    this.status = { ...this.status, profile: 'memory', warnings: [...this.status.warnings, reason] };
    this.report(new VitrineError('storage_unavailable', reason, { cause: err }));
  }

  rank(activities: Activity[], options?: RankOptions): Promise<Decision> {
    return settled(this.rankImpl(activities, options), this.report);
  }

  private async rankImpl(activitiesIn: Activity[], optionsIn?: RankOptions): Promise<Decision> {
    if (this.closed) throw new VitrineError('closed', 'this Vitrine instance was closed');
    const { activities: all, options } = validateRank(activitiesIn, optionsIn);
    const at = toTime(options.at) ?? this.now();
    const ineligible: string[] = [];
    const activities = all.filter((a) => (isEligible(a, at) ? true : (ineligible.push(a.id), false)));
    const slots = options.slots ?? activities.length;
    const context = options.context ?? {};
    const id = newId();
    if (!this.scorer || !this.encoder) return this.remember(this.rulesDecision(id, activities, slots, ineligible, this.status.degraded ?? 'no model'), activities.slice(0, slots));
    try {
      const batch = this.encoder.encodeFactored(activities, context, this.user, this.profile);
      const scores = await this.scorer.score(batch);
      const rows = options.includeFeatures ? this.encoder.expand(batch) : undefined;
      const slate = chooseSlate(scores, slots, this.epsilon, this.random);
      const items: RankedItem[] = slate.order.map((i, pos) => ({
        id: activities[i].id,
        score: scores[i],
        propensity: slate.propensities[pos],
        position: pos,
        reasons: explain(activities[i], scores[i], slate.propensities[pos], slate.explored, this.profile),
        ...(rows ? { features: Array.from(rows.subarray(i * this.encoder!.dimension, (i + 1) * this.encoder!.dimension)) } : {}),
      }));
      return this.remember({
        id,
        items,
        modelVersion: this.model!.manifest.version,
        backend: this.scorer.backend,
        policy: { name: 'epsilon-greedy-slate', epsilon: this.epsilon, explored: slate.explored },
        ineligible,
      }, slate.order.map((i) => activities[i]));
    } catch (err) {
      const error = toVitrineError(err, 'scoring_failed', 'scoring failed');
      this.report(error);
      return this.remember(this.rulesDecision(id, activities, slots, ineligible, error.message), activities.slice(0, slots));
    }
  }

  /** The shop's own order, eligible items only: what the page gets when the model can't run. */
  private rulesDecision(id: string, activities: Activity[], slots: number, ineligible: string[], reason: string): Decision {
    return {
      id,
      items: activities.slice(0, slots).map((a, position) => ({
        id: a.id, score: null, propensity: 1, position, reasons: [{ code: 'fallback', text: `shop order (${reason})` }],
      })),
      modelVersion: this.model?.manifest.version ?? null,
      backend: 'rules',
      policy: { name: 'epsilon-greedy-slate', epsilon: 0, explored: false },
      ineligible,
      degraded: reason,
    };
  }

  /** Keeps the placed items of recent decisions for track(): only what was shown can be acted on. */
  private remember(decision: Decision, placedActivities: Activity[]): Decision {
    const placed = new Map(placedActivities.map((a) => [a.id, a]));
    this.decisions.set(decision.id, { activities: placed });
    this.placements += placed.size;
    while (this.decisions.size > 1 && (this.decisions.size > DECISIONS_KEPT || this.placements > PLACEMENTS_KEPT)) {
      const oldest = this.decisions.keys().next().value!;
      this.placements -= this.decisions.get(oldest)!.activities.size;
      this.decisions.delete(oldest);
    }
    return decision;
  }

  track(decisionId: string, activityId: string, outcome: Outcome): Promise<void> {
    return settled(this.trackImpl(decisionId, activityId, outcome), this.report);
  }

  private async trackImpl(decisionIdIn: string, activityIdIn: string, outcomeIn: Outcome): Promise<void> {
    if (this.closed) throw new VitrineError('closed', 'this Vitrine instance was closed');
    const { decisionId, activityId, outcome } = validateTrack(decisionIdIn, activityIdIn, outcomeIn);
    const decision = this.decisions.get(decisionId);
    if (!decision) throw new VitrineError('unknown_decision', `decisionId "${decisionId}" is not a recent decision of this page`, { field: 'decisionId' });
    const activity = decision.activities.get(activityId);
    if (activity === undefined) throw new VitrineError('invalid_input', `activityId "${activityId}" was not placed by decision ${decisionId}`, { field: 'activityId' });
    const attributes = activityAttributes(activity.features);
    const event: ProfileEvent = {
      activityId, activityType: activity.type, outcome, hour: coarseHour(this.now()),
      ...(attributes ? { attributes } : {}),
    };
    try {
      this.profile = await this.store.append(event);
    } catch (err) {
      await this.toMemory(err);
      this.profile = await this.store.append(event);
    }
  }

  setUser(user: FeatureRecord): Promise<void> {
    return settled((async () => {
      this.user = { ...validateUser(user) };
    })(), this.report);
  }

  exportProfile(): Promise<ProfileExport> {
    return settled((async () => ({
      storage: this.store.kind,
      schemaVersion: 1,
      user: { ...this.user },
      aggregates: this.profile,
      events: await this.store.events(),
      retention: DEFAULT_RETENTION,
    }))(), this.report);
  }

  forget(): Promise<void> {
    return settled(this.forgetImpl(), this.report);
  }

  private async forgetImpl(): Promise<void> {
    this.decisions.clear();
    this.placements = 0;
    this.user = {};
    this.profile = emptyAggregates();
    await this.store.clear();
    if (this.store.kind === 'indexeddb') {
      this.store.close();
      await deleteDatabase(DB_NAME);
    }
    // The model cache holds nothing personal, but "forget" promises an empty origin.
    if (typeof caches !== 'undefined') await caches.delete(MODEL_CACHE).catch(() => false);
  }

  close(): void {
    this.closed = true;
    this.scorer?.dispose();
    this.store.close();
  }
}

function deleteDatabase(name: string): Promise<void> {
  return new Promise((resolve) => {
    try {
      const req = indexedDB.deleteDatabase(name);
      req.onsuccess = req.onerror = req.onblocked = () => resolve();
    } catch {
      resolve();
    }
  });
}

function defaultRandom(): number {
  const buf = new Uint32Array(1);
  globalThis.crypto.getRandomValues(buf);
  return buf[0] / 2 ** 32;
}

function newId(): string {
  return globalThis.crypto?.randomUUID?.() ?? `d-${Date.now().toString(36)}-${Math.floor(defaultRandom() * 2 ** 32).toString(36)}`;
}

/**
 * Creates a ranking client. Rejects only for invalid options; a model or backend that can't be
 * loaded gives a working client whose `status.degraded` says why and whose `rank` returns the
 * shop's own order.
 */
export function createVitrine(options: VitrineOptions): Promise<Vitrine> {
  const p = (async () => {
    const opts = validateOptions(options);
    const now = opts.now ?? Date.now;
    const progress = (p: Parameters<NonNullable<VitrineOptions['onProgress']>>[0]) => {
      try { opts.onProgress?.(p); } catch { /* never let a callback break init */ }
    };
    const storeP = openProfileStore(opts.storage ?? 'auto', now);
    const warnings: string[] = [];
    let model: LoadedModel | null = null;
    let scorer: Scorer | null = null;
    let encoder: FeatureEncoder | null = null;
    let degraded: string | undefined;
    const status: VitrineStatus = { ready: false, backend: 'rules', profile: 'memory', warnings };
    // Fetch the scoring code (tfjs-core + WebGPU) while the model downloads.
    const selectP = import('./scoring/select');
    selectP.catch(() => undefined);
    try {
      const manifestUrl = new URL(opts.model, globalThis.document?.baseURI ?? globalThis.location?.href).href;
      model = await loadModel(manifestUrl, defaultLoaderEnv(progress));
      if (model.warning) warnings.push(model.warning);
      encoder = new FeatureEncoder(model.manifest.featureSpec);
      progress({ stage: 'backend', progress: 0.75 });
      const { selectScorer } = await selectP;
      // Warm up for the input width this model really has, plus a few cross signatures.
      const selected = await selectScorer(model, opts.backend ?? 'auto', { wasmPaths: opts.wasmPaths, cacheName: MODEL_CACHE, inputWidth: encoder.variableWidth + 8 });
      progress({ stage: 'warmup', progress: 0.95 });
      scorer = selected.scorer;
      warnings.push(...selected.warnings);
      Object.assign(status, { backend: scorer.backend, adapter: selected.adapter, selection: selected.selection });
    } catch (err) {
      const error = toVitrineError(err, 'model_unavailable', 'model could not be loaded');
      degraded = `${error.code}: ${error.message}`;
      scorer = null;
      try { opts.onError?.(error); } catch { /* ignore */ }
    }
    const { store, warning } = await storeP;
    if (warning) warnings.push(warning);
    const client = new VitrineClient(opts, store, model, scorer, encoder, {
      ...status,
      ready: true,
      modelVersion: model?.manifest.version,
      profile: store.kind,
      ...(degraded ? { degraded } : {}),
    });
    await client.loadProfile();
    progress({ stage: 'ready', progress: 1 });
    return client as Vitrine;
  })();
  return p;
}
