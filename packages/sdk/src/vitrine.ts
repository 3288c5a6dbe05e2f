import { VitrineError, toVitrineError } from './errors';
import { FeatureEncoder } from '@vitrine/core/features';
import { defaultLoaderEnv, loadModel, MODEL_CACHE, type LoadedModel } from './model/loader';
import { chooseSlate } from './policy/epsilon-greedy';
import { isEligible, toTime } from './policy/eligibility';
import { explain } from './policy/explain';
import { activityAttributes, coarseHour, emptyAggregates, type ProfileAggregates, type ProfileEvent } from '@vitrine/core/features';
import { DB_NAME } from './profile/idb-store';
import { MemoryProfileStore } from './profile/memory-store';
import { openProfileStore } from './profile/index';
import { DEFAULT_RETENTION, type ProfileExport, type ProfileStore } from './profile/store';
import type { Scorer } from './scoring/scorer';
import { validateOptions, validateRank, validateTrack, validateUser, ConsentSchema } from './validate';
import type { SignalOutbox } from './signals/outbox';
import type { Placement, PrivacyReport, SignalsStage } from './signals/stage';
import * as v from 'valibot';
import { BACKENDS, type Activity, type Consent, type Decision, type FeatureRecord, type Outcome, type RankedItem, type RankOptions, type VitrineOptions, type VitrineStatus } from './types';

const DEFAULT_EPSILON = 0.05;
const DECISIONS_KEPT = 500;
/** Bound on remembered placements across decisions (memory stays flat for huge candidate lists). */
const PLACEMENTS_KEPT = 20_000;

/** Hands a rejected promise to the caller while keeping fire-and-forget calls from raising `unhandledrejection`. */
function settled<T>(p: Promise<T>, report: (e: VitrineError) => void): Promise<T> {
  p.catch((e: VitrineError) => report(e));
  return p;
}

interface StoredDecision { activities: Map<string, Activity>; placements?: Map<string, Placement> }

/** Seams for Node tools (simulation, evaluation): replace the stores the browser would open. */
export interface VitrineInternals {
  profileStore?: ProfileStore;
  outbox?: SignalOutbox;
  /** Idle time before an open signal batch is sealed and sent (default 30 s). */
  flushDelayMs?: number;
}

export interface Vitrine {
  readonly status: VitrineStatus;
  rank(activities: Activity[], options?: RankOptions): Promise<Decision>;
  track(decisionId: string, activityId: string, outcome: Outcome): Promise<void>;
  /** Replaces the shopper's attributes (sign-in, sign-out); they never leave the device. */
  setUser(user: FeatureRecord): Promise<void>;
  exportProfile(): Promise<ProfileExport>;
  forget(): Promise<void>;
  /**
   * What this device sent to the Vitrine server and how much of its privacy budget it used.
   * `{ consent: 'none' }` when signals are off.
   */
  privacyReport(): Promise<PrivacyReport | { consent: 'none'; sent: null }>;
  /** Grants ('signals') or withdraws ('none') consent; withdrawing deletes unsent signals. */
  setConsent(consent: Consent): Promise<void>;
  /** Sends pending signals now (they are also sent on their own and when the page is hidden). */
  flush(): Promise<void>;
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
  private signals: SignalsStage | null = null;
  private readonly onPageHide = () => { void this.signals?.flush({ keepalive: true }); };
  private readonly onHidden = () => { if (globalThis.document?.visibilityState === 'hidden') void this.signals?.flush({ keepalive: true }); };

  constructor(
    private readonly options: VitrineOptions,
    private store: ProfileStore,
    private readonly model: LoadedModel | null,
    private readonly scorer: Scorer | null,
    private readonly encoder: FeatureEncoder | null,
    status: VitrineStatus,
    private readonly internals: VitrineInternals = {},
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
      const placements = this.signals?.placements(activities, slate.order, slate.propensities, this.epsilon, this.encoder, context, this.user, this.profile);
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
      }, slate.order.map((i) => activities[i]), placements);
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
  private remember(decision: Decision, placedActivities: Activity[], placements?: Map<string, Placement>): Decision {
    const placed = new Map(placedActivities.map((a) => [a.id, a]));
    this.decisions.set(decision.id, { activities: placed, ...(placements ? { placements } : {}) });
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
    const placement = decision.placements?.get(activityId);
    if (placement && this.signals) await this.signals.record(decisionId, activityId, placement, outcome);
  }

  /** Starts the signals stage when consent, an endpoint and a model are all there. */
  async startSignals(): Promise<void> {
    if (this.signals || this.options.consent !== 'signals' || !this.options.endpoint || !this.model) return;
    // The whole signals stage is a lazy chunk: pages without consent never download it.
    const { IdbOutbox, MemoryOutbox } = await import('./signals/outbox');
    let outbox = this.internals.outbox;
    if (!outbox) {
      try {
        outbox = this.options.storage === 'memory' ? new MemoryOutbox() : await IdbOutbox.open();
      } catch (err) {
        outbox = new MemoryOutbox();
        this.status = { ...this.status, warnings: [...this.status.warnings, `signal queue kept in memory (${(err as Error).message}): unsent signals are lost if the page closes`] };
      }
    }
    const { SignalsStage } = await import('./signals/stage');
    const { loadModel, defaultLoaderEnv } = await import('./model/loader');
    const endpoint = new URL(this.options.endpoint, globalThis.document?.baseURI ?? globalThis.location?.href).href;
    this.signals = new SignalsStage(this.model, {
      endpoint, outbox, now: this.now, random: this.random,
      fetch: globalThis.fetch.bind(globalThis),
      loadShadow: (url) => loadModel(url, defaultLoaderEnv()),
      onError: (message, cause) => this.report(new VitrineError('signals_failed', message, { cause })),
      flushDelayMs: this.internals.flushDelayMs ?? 30_000,
    });
    globalThis.addEventListener?.('pagehide', this.onPageHide);
    globalThis.document?.addEventListener?.('visibilitychange', this.onHidden);
  }

  private stopSignalListeners(): void {
    globalThis.removeEventListener?.('pagehide', this.onPageHide);
    globalThis.document?.removeEventListener?.('visibilitychange', this.onHidden);
  }

  privacyReport(): Promise<PrivacyReport | { consent: 'none'; sent: null }> {
    return settled((async () => (this.signals ? this.signals.report() : { consent: 'none' as const, sent: null }))(), this.report);
  }

  setConsent(consent: Consent): Promise<void> {
    return settled((async () => {
      const parsed = v.safeParse(ConsentSchema, consent);
      if (!parsed.success) throw new VitrineError('invalid_input', `consent ${parsed.issues[0].message}`, { field: 'consent' });
      (this.options as VitrineOptions).consent = parsed.output;
      if (parsed.output === 'signals') {
        // A bad endpoint or a broken IndexedDB surfaces as a VitrineError, never a raw TypeError.
        return this.startSignals().catch((err) => { throw toVitrineError(err, 'signals_failed', 'signals could not start'); });
      }
      this.stopSignalListeners();
      await this.signals?.stop();
      this.signals = null;
      for (const d of this.decisions.values()) delete d.placements;
    })(), this.report);
  }

  flush(): Promise<void> {
    return settled((async () => {
      if (!this.signals) return;
      await this.signals.settle();
      await this.signals.flush();
      await this.signals.settle();
    })(), this.report);
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
    // Unsent signals go too; the privacy ledger (dates and costs only) stays, so forgetting
    // cannot reset the privacy budget.
    await this.signals?.stop();
    if (this.signals) {
      this.signals = null;
      this.stopSignalListeners();
      await this.startSignals();
    }
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
    this.stopSignalListeners();
    this.signals?.close();
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
export function createVitrine(options: VitrineOptions, internals: VitrineInternals = {}): Promise<Vitrine> {
  const p = (async () => {
    const opts = validateOptions(options);
    const now = opts.now ?? Date.now;
    const progress = (p: Parameters<NonNullable<VitrineOptions['onProgress']>>[0]) => {
      try { opts.onProgress?.(p); } catch { /* never let a callback break init */ }
    };
    const storeP = internals.profileStore ? Promise.resolve({ store: internals.profileStore, warning: undefined }) : openProfileStore(opts.storage ?? 'auto', now);
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
      const selected = await selectScorer(model, opts.backend ?? 'auto', { wasmPaths: opts.wasmPaths, cacheName: MODEL_CACHE, inputWidth: encoder.variableWidth + 8, fallbackOrder: BACKENDS });
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
    }, internals);
    await client.loadProfile();
    await client.startSignals().catch((err) => { try { opts.onError?.(toVitrineError(err, 'signals_failed', 'signals could not start')); } catch { /* ignore */ } });
    progress({ stage: 'ready', progress: 1 });
    return client as Vitrine;
  })();
  return p;
}
