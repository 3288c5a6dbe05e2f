import { VitrineError, toVitrineError } from './errors';
import { backoffDelay } from './backoff';
import type { FeatureEncoder } from '@vitrine/core/features';
import { MODEL_CACHE, type LoadedModel } from './model/loader';
import { createDecisionLog } from './policy/decision-log';
import { createTaskSlicer } from './policy/task-slicer';
import { chooseSlate } from './policy/epsilon-greedy';
import { isEligible, toTime } from './policy/eligibility';
import { explain, knownActivityIds, type DecisionInputs } from './policy/explain';
import { activityAttributes, coarseHour, emptyAggregates, type ProfileAggregates, type ProfileEvent } from '@vitrine/core/features';
import { MemoryProfileStore } from './profile/memory-store';
import { openProfileStore } from './profile/index';
import { DEFAULT_RETENTION, type ProfileExport, type ProfileStore } from './profile/store';
import type { Scorer } from './scoring/scorer';
import { loadModelParts, loadShadowModel, type ModelParts } from './model/model-parts';
import type { BackgroundSelection } from './scoring/select';
import { defaultRandom, newId, setTimer } from './platform';
import { validateOptions, validateRank, validateTrack, validateUser, ConsentSchema } from './validate';
import type { SignalOutbox } from './signals/outbox';
import type { PolicyStage, RankPolicy, Rules } from './policy/rules';
import type { Placement, PrivacyReport, SignalsStage } from './signals/stage';
import * as v from 'valibot';
import type {
  Activity,
  Consent,
  Decision,
  Explanation,
  FeatureRecord,
  Outcome,
  Progress,
  RankedItem,
  RankOptions,
  VitrineOptions,
  VitrineStatus,
} from './types';

const DEFAULT_EPSILON = 0.05;
/**
 * A model that could not be loaded (a server answering 502 while it starts, a flaky network,
 * a tampered download) is tried again: 2 s, 4 s, 8 s … (each with jitter) up to 5 minutes,
 * at most 10 times per page life.
 */
const MODEL_RETRY_BASE_MS = 2_000;
const MODEL_RETRY_CAP_MS = 5 * 60_000;
const MODEL_RETRIES = 10;

/**
 * Hands a rejected promise to the caller, always as a VitrineError (a storage or platform error
 * that slipped through becomes 'internal' with its cause), while keeping fire-and-forget calls
 * from raising `unhandledrejection`.
 */
function settled<T>(p: Promise<T>, report: (e: VitrineError) => void): Promise<T> {
  const typed = p.catch((err: unknown) => {
    throw toVitrineError(err, 'internal', 'unexpected failure');
  });
  typed.catch((e: VitrineError) => report(e));
  return typed;
}

/**
 * Without a pinned key a manifest whose version label does not match its weights is used (its
 * label proves nothing unsigned), but the page is told: with `modelKey` it would be refused.
 */
function unpinnedMismatch(model: LoadedModel): string[] {
  const integrity = model.integrity;
  if (!integrity || integrity.signature !== 'unchecked' || integrity.versionLabel !== 'mismatch') return [];
  return [`model ${model.manifest.version}: its version label does not match its weights (pin modelKey to refuse such manifests)`];
}

/** Seams for Node tools (simulation, evaluation): replace the stores the browser would open. */
export interface VitrineInternals {
  profileStore?: ProfileStore;
  outbox?: SignalOutbox;
  /** Idle time before an open signal batch is sealed and sent (default 30 s). */
  flushDelayMs?: number;
  /** Timer for model-load retries (tests run it by hand); returns a function that cancels it. */
  setTimer?: (run: () => void, delayMs: number) => () => void;
  /** Benchmarks: where each model-scored rank's time went (only measured when set). */
  onRankTimings?: (timings: RankTimings) => void;
  /**
   * Benchmarks: receives a function that prepares the bare forward pass rank() would run for
   * these inputs (encoded and folded once); each call of the result is upload, matmuls, readback.
   */
  onForwardPass?: (prepare: (activities: Activity[], options?: RankOptions) => Promise<() => Promise<Float32Array>>) => void;
}

/** Milliseconds per stage of one rank() (see VitrineInternals.onRankTimings). */
export interface RankTimings {
  validate: number;
  encode: number;
  score: number;
  /** Slate choice, explanations, decision log, signals hand-off. */
  decide: number;
  total: number;
}

/**
 * No signals stage runs: `consent` is what is in effect ('profile' while a granted 'signals' waits
 * for a model or has no endpoint; `requested` then says 'signals').
 */
type NoSignalsReport = { consent: 'none' | 'profile'; sent: null; requested?: 'signals' };

const NONE: ReadonlySet<string> = new Set();
const NO_RECORD: FeatureRecord = {};

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
   * `{ consent: 'none' | 'profile', sent: null }` when no signals stage runs.
   */
  privacyReport(): Promise<PrivacyReport | NoSignalsReport>;
  /**
   * Changes the shopper's choice at once. 'none' erases what was stored (the profile database and
   * unsent signals) and ranks from the page context only; 'profile' opens the profile store again;
   * leaving 'signals' deletes unsent signals and stops sending.
   */
  setConsent(consent: Consent): Promise<void>;
  /**
   * The merchant's segments (the shop's and the server's) this shopper is in, computed on the
   * device from the profile and attributes. Never sent as such.
   */
  segments(): Promise<{ id: string; name: string }[]>;
  /**
   * "Why this offer" for a card of a recent decision: each input group's contribution to its score
   * (the score minus the score with that group's inputs removed), in plain words. Computed on the
   * device with the inputs the decision ranked with.
   */
  explain(decisionId: string, activityId: string): Promise<Explanation>;
  /** Sends pending signals now (they are also sent on their own and when the page is hidden). */
  flush(): Promise<void>;
  close(): void;
}

/** What a client is made of; the model comes later, through useModel(). */
interface ClientParts {
  options: VitrineOptions;
  /** options.onProgress, guarded: a model-load retry reports through it and ends with 'ready'. */
  progress: (p: Progress) => void;
  store: ProfileStore;
  /** Opens the profile store (consent going from 'none' to 'profile' or 'signals'). */
  openStore: () => Promise<{ store: ProfileStore; warning?: string }>;
  status: VitrineStatus;
  internals: VitrineInternals;
}

class VitrineClient implements Vitrine {
  status: VitrineStatus;
  readonly options: VitrineOptions;
  private readonly progress: (p: Progress) => void;
  store: ProfileStore;
  readonly openStore: () => Promise<{ store: ProfileStore; warning?: string }>;
  /** Consent changes apply one at a time, in the order asked. */
  private consentChange: Promise<void> = Promise.resolve();
  /** Activity ids the model knows, per encoder (null: the model has no id feature). */
  private known?: { encoder: FeatureEncoder; ids: ReadonlySet<string> | null };
  private readonly internals: VitrineInternals;
  user: FeatureRecord;
  readonly random: () => number;
  readonly now: () => number;
  private readonly epsilon: number;
  /** The cancel function of the scheduled model-load retry, and why the last load failed. */
  private cancelRetry?: () => void;
  private loadFailure?: string;
  private model: LoadedModel | null = null;
  scorer: Scorer | null = null;
  /** `auto`: background work that may switch `scorer` to a faster backend (see selectScorer). */
  private background?: BackgroundSelection;
  encoder: FeatureEncoder | null = null;
  profile: ProfileAggregates = emptyAggregates();
  readonly decisions = createDecisionLog<Placement>();
  private readonly slicer = createTaskSlicer();
  closed = false;
  /** Set by forget(): a model-load retry still in flight must not start anything afterwards. */
  private forgotten = false;
  signals: SignalsStage | null = null;
  private signalsStart: Promise<void> = Promise.resolve();
  /** Model-load retries made on this page. */
  private retries = 0;
  /** The warning of the profile store's current persistence failure, if any. */
  private storageFailure?: string;
  /** The merchant's rules, segments and holdout (a lazy chunk), once a page uses them. */
  policy?: PolicyStage;

  constructor({ options, progress, store, openStore, status, internals }: ClientParts) {
    this.options = options;
    this.progress = progress;
    this.store = store;
    this.openStore = openStore;
    this.status = status;
    this.internals = internals;
    this.user = { ...(options.user ?? {}) };
    this.random = options.random ?? defaultRandom;
    this.now = options.now ?? Date.now;
    this.epsilon = options.epsilon ?? DEFAULT_EPSILON;
    // Benchmarks only: a lazy chunk, never part of a page's first download.
    internals.onForwardPass?.(async (activities, options) =>
      (await import('./scoring/forward-pass')).prepareForwardPass(this, activities, options),
    );
  }

  /**
   * Takes the outcome of a model load: ranks with the model from then on, or stays on the shop's
   * order and schedules another load. Never rejects.
   */
  async useModel(loading: Promise<ModelParts>): Promise<void> {
    try {
      const parts = await loading;
      if (this.closed || this.forgotten) {
        if ('selected' in parts) {
          parts.selected.background?.cancel();
          parts.selected.scorer.dispose();
        }
        // A load in flight during forget() cached the (non-personal) model again: forget promises an empty origin.
        if (this.forgotten && typeof caches !== 'undefined') await caches.delete(MODEL_CACHE).catch(() => false);
        return;
      }
      // A verified model is kept even when no backend starts: decisions name its version, the
      // signals stage can run on it, and a retry only has to start a backend.
      this.model = parts.model;
      this.encoder = parts.encoder;
      this.status = { ...this.status, modelVersion: parts.model.manifest.version, integrity: parts.model.integrity };
      if ('backendError' in parts) throw parts.backendError;
      const { model, selected } = parts;
      this.scorer = selected.scorer;
      this.background = selected.background;
      const { degraded: _, ...status } = this.status;
      this.status = {
        ...status,
        backend: selected.scorer.backend,
        adapter: selected.adapter,
        selection: selected.selection,
        warnings: [...status.warnings, ...(model.warning ? [model.warning] : []), ...unpinnedMismatch(model), ...selected.warnings],
      };
    } catch (err) {
      // With a verified model the status says so: modelVersion is set because the model is kept
      // (decisions name it, a retry only starts a backend), not because it ranks.
      const error = toVitrineError(
        err,
        this.model ? 'scoring_failed' : 'model_unavailable',
        this.model ? `model ${this.model.manifest.version} verified, but no backend could start` : 'model could not be loaded',
      );
      this.report(error);
      this.loadFailure = `${error.code}: ${error.message}`;
      this.status = { ...this.status, degraded: this.loadFailure };
      if (this.closed || this.retries >= MODEL_RETRIES) return;
      const delay = backoffDelay(this.retries++, this.random, MODEL_RETRY_BASE_MS, MODEL_RETRY_CAP_MS);
      this.status.degraded += `; retry ${this.retries} of ${MODEL_RETRIES} in ${Math.ceil(delay / 1000)} s`;
      // Never rejects: useModel and startSignalsOrReport report their own errors, progress is guarded.
      this.cancelRetry = (this.internals.setTimer ?? setTimer)(async () => {
        const { model, encoder } = this;
        await this.useModel(loadModelParts(this.options, this.progress, model && encoder ? { model, encoder } : undefined));
        if (!this.scorer || this.closed || this.forgotten) return;
        await this.startSignalsOrReport();
        // The page learns that ranking now uses the model (e.g. to rank again).
        this.progress({ stage: 'ready', progress: 1 });
        this.startBackgroundSelection();
      }, delay);
    }
  }

  /**
   * Once the client ranks: lets background selection (`auto`) race or warm up a faster backend;
   * when it is decided, the status says which backend ranks and why (and so do later decisions).
   */
  startBackgroundSelection(): void {
    const background = this.background;
    if (!background || this.closed || this.forgotten) return;
    const current = () => !this.closed && this.background === background;
    background.start({
      onSelection: (backend, selection) => {
        if (!current()) return;
        this.status = { ...this.status, backend, selection };
        if (selection.switchedFrom) {
          this.progress({ stage: 'backend', progress: 1, detail: `ranking switched from ${selection.switchedFrom} to ${backend}` });
        }
      },
      onWarning: (warning) => {
        if (current()) this.status = { ...this.status, warnings: [...this.status.warnings, warning] };
      },
    });
  }

  /** close() and forget(): background selection stops; ranking stays on the backend it uses now. */
  private stopBackgroundSelection(why: string): void {
    const background = this.background;
    if (!background) return;
    this.background = undefined;
    background.cancel();
    const selection = this.status.selection;
    if (selection?.pending) {
      const { pending: _, ...rest } = selection;
      this.status = { ...this.status, selection: { ...rest, reason: `${rest.reason} (${why}: no switch)` } };
    }
  }

  /** close() and forget(): no model load is tried again on this page. */
  private stopModelRetries(): void {
    this.retries = MODEL_RETRIES;
    this.cancelRetry?.();
    if (this.status.degraded) this.status = { ...this.status, degraded: this.loadFailure };
  }

  get consent(): Consent {
    return this.options.consent ?? 'profile';
  }

  /** The shopper's attributes as ranking uses them: none under consent 'none' (page context only). */
  personalUser(): FeatureRecord {
    return this.consent === 'none' ? NO_RECORD : this.user;
  }

  async loadProfile(): Promise<void> {
    if (this.consent === 'none') return;
    try {
      this.profile = await this.store.load();
    } catch (err) {
      await this.toMemory(err);
    }
  }

  /** A stored record failed validation on read and was rebuilt or dropped. */
  storageRepaired = (reason: string): void => {
    this.status = { ...this.status, warnings: [...this.status.warnings, reason] };
    this.report(new VitrineError('storage_unavailable', reason));
  };

  /**
   * The profile store could not persist (`failure`: it keeps events in memory and retries) or
   * persists again (null: the failure's warning goes, the status names the store again).
   */
  storageChanged = (failure: string | null, cause?: unknown): void => {
    const warnings = this.status.warnings.filter((w) => w !== this.storageFailure);
    this.storageFailure = failure ?? undefined;
    this.status = { ...this.status, profile: this.store.kind, warnings: failure ? [...warnings, failure] : warnings };
    if (failure) this.report(new VitrineError('storage_unavailable', failure, { cause }));
  };

  report = (err: VitrineError): void => {
    try {
      this.options.onError?.(err);
    } catch {
      /* a throwing callback must not break us either */
    }
  };

  /** A store without its own fallback (one passed by a Node tool) failed: keep going in memory and say so. */
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
    const turn = this.slicer.turn();
    if (turn) {
      await turn;
      if (this.closed) throw new VitrineError('closed', 'this Vitrine instance was closed');
    }
    const timed = this.internals.onRankTimings;
    const t0 = timed ? performance.now() : 0;
    const { activities: all, options } = validateRank(activitiesIn, optionsIn);
    const at = toTime(options.at) ?? this.now();
    const ineligible: string[] = [];
    let activities = all.some(hasWindow) ? all.filter((a) => (isEligible(a, at) ? true : (ineligible.push(a.id), false))) : all;
    // The merchant's rules act first (a lazy chunk): what they leave eligible is what is scored and explored.
    const ruled = this.usesRules(options.rules) ? await (await this.policyStage()).context(options.rules, at) : null;
    if (ruled) activities = ruled.filter(activities);
    const slots = options.slots ?? activities.length;
    const context = options.context ?? {};
    const id = newId();
    // Read once: a model-load retry may fill these in while this call waits on the scorer.
    const { model, scorer, encoder } = this;
    if (!model || !scorer || !encoder) {
      return this.rulesDecision(id, activities, slots, ineligible, this.status.degraded ?? 'no model', ruled);
    }
    try {
      const t1 = timed ? performance.now() : 0;
      const user = this.personalUser();
      const profile = this.profile;
      const batch = encoder.encodeFactored(activities, context, user, profile);
      const t2 = timed ? performance.now() : 0;
      const scores = await scorer.score(batch);
      const t3 = timed ? performance.now() : 0;
      // A score that is not a number (a broken backend, a profile value no check caught) must not order the page.
      if (!allFinite(scores)) throw new Error('the model produced a score that is not a finite number');
      const rows = options.includeFeatures ? encoder.expand(batch) : undefined;
      const slate = ruled ? ruled.choose(activities, scores, slots, this.epsilon) : chooseSlate(scores, slots, this.epsilon, this.random);
      const placements = this.signals?.placements({
        ...slate,
        activities,
        epsilon: this.epsilon,
        encoder,
        context,
        user,
        profile,
      });
      const known = this.knownIds(encoder);
      const exploredIds = slate.explored ? new Set<string>() : NONE;
      const items: RankedItem[] = slate.order.map((i, pos) => {
        const id = activities[i].id;
        const coldStart = known !== null && !known.has(id);
        if (slate.explored && slate.greedy[pos] !== i) (exploredIds as Set<string>).add(id);
        return {
          id,
          score: scores[i],
          propensity: slate.propensities[pos],
          position: pos,
          reasons: [
            ...(ruled ? ruled.reasons(pos, scores) : []),
            ...explain(activities[i], scores[i], slate.propensities[pos], slate.explored, profile),
          ],
          coldStart,
          ...(rows ? { features: Array.from(rows.subarray(i * encoder.dimension, (i + 1) * encoder.dimension)) } : {}),
        };
      });
      const decision = this.remember(
        {
          id,
          items,
          modelVersion: model.manifest.version,
          backend: scorer.backend,
          policy: {
            name: 'epsilon-greedy-slate',
            epsilon: this.epsilon,
            explored: slate.explored,
            ...ruled?.arm(),
          },
          ineligible,
          ...ruled?.excluded(),
        },
        slate.order.map((i) => activities[i]),
        placements,
        // A copy of the context: the page may reuse its object; user and profile are replaced, never mutated.
        { context: { ...context }, user, profile, exploredIds },
      );
      if (timed) {
        const t4 = performance.now();
        timed({ validate: t1 - t0, encode: t2 - t1, score: t3 - t2, decide: t4 - t3, total: t4 - t0 });
      }
      return decision;
    } catch (err) {
      const error = toVitrineError(err, 'scoring_failed', 'scoring failed');
      this.report(error);
      return this.rulesDecision(id, activities, slots, ineligible, error.message, ruled);
    }
  }

  /** The shop's own order, eligible items only (with the merchant's rules): what the page gets when the model can't run. */
  private rulesDecision(
    id: string,
    activities: Activity[],
    slots: number,
    ineligible: string[],
    reason: string,
    ruled: RankPolicy | null,
  ): Decision {
    // The merchant's pins, boosts and type cap still order the shop's list.
    const shown = ruled ? ruled.fallback(activities, slots) : activities.slice(0, slots);
    return this.remember(
      {
        id,
        items: shown.map((a, position) => ({
          id: a.id,
          score: null,
          propensity: 1,
          position,
          reasons: [{ code: 'fallback', text: `shop order (${reason})` }],
          coldStart: false,
        })),
        modelVersion: this.model?.manifest.version ?? null,
        backend: 'rules',
        policy: { name: 'epsilon-greedy-slate', epsilon: 0, explored: false },
        ineligible,
        ...ruled?.excluded(),
        degraded: reason,
      },
      shown,
    );
  }

  /** Whether rank() goes through the policy stage: rules, segments or a server policy exist, or the holdout runs. */
  private usesRules(callRules: Rules | undefined): boolean {
    return callRules !== undefined || !!this.policy?.active() || (this.signals !== null && this.options.holdout !== false);
  }

  /** The policy stage (a lazy chunk), created on first use. */
  private async policyStage(): Promise<PolicyStage> {
    if (this.policy) return this.policy;
    const { PolicyStage } = await import('./policy/rules');
    return (this.policy ??= new PolicyStage(this));
  }

  /** Checks the shop's rules and segments (createVitrine rejects bad ones) and fetches the server's policy. */
  async prepareRules(): Promise<void> {
    const { rules, segments, endpoint, holdout } = this.options;
    if (rules !== undefined || segments !== undefined || holdout !== undefined || endpoint) await (await this.policyStage()).prepare();
  }

  segments(): Promise<{ id: string; name: string }[]> {
    return settled(
      (async () => {
        if (this.closed) throw new VitrineError('closed', 'this Vitrine instance was closed');
        return this.policy ? this.policy.segments(this.now()) : [];
      })(),
      this.report,
    );
  }

  private remember(
    decision: Decision,
    placedActivities: Activity[],
    placements?: Map<string, Placement>,
    inputs?: DecisionInputs,
  ): Decision {
    this.decisions.remember(decision.id, placedActivities, placements, inputs);
    return decision;
  }

  private knownIds(encoder: FeatureEncoder): ReadonlySet<string> | null {
    if (this.known?.encoder !== encoder) this.known = { encoder, ids: knownActivityIds(encoder) };
    return this.known.ids;
  }

  track(decisionId: string, activityId: string, outcome: Outcome): Promise<void> {
    return settled(this.trackImpl(decisionId, activityId, outcome), this.report);
  }

  private async trackImpl(decisionIdIn: string, activityIdIn: string, outcomeIn: Outcome): Promise<void> {
    if (this.closed) throw new VitrineError('closed', 'this Vitrine instance was closed');
    const { decisionId, activityId, outcome } = validateTrack(decisionIdIn, activityIdIn, outcomeIn);
    const { decision, activity } = this.placed(decisionId, activityId);
    const attributes = activityAttributes(activity.features);
    const event: ProfileEvent = {
      activityId,
      activityType: activity.type,
      outcome,
      hour: coarseHour(this.now()),
      ...(attributes ? { attributes } : {}),
    };
    // Consent 'none': nothing is kept, so the outcome only reaches the page (e.g. a dismissed card hides).
    if (this.consent !== 'none') {
      try {
        this.profile = await this.store.append(event);
      } catch (err) {
        await this.toMemory(err);
        this.profile = await this.store.append(event);
      }
      this.policy?.recorded(event);
    }
    const placement = decision.placements?.get(activityId);
    if (placement && this.signals) await this.signals.record(decisionId, activityId, placement, outcome);
  }

  /** The decision and the placed activity that track() and explain() refer to, or a typed rejection. */
  private placed(decisionId: string, activityId: string) {
    const decision = this.decisions.get(decisionId);
    if (!decision) {
      throw new VitrineError('unknown_decision', `decisionId "${decisionId}" is not a recent decision of this page`, {
        field: 'decisionId',
      });
    }
    const activity = decision.activities.get(activityId);
    if (activity === undefined) {
      throw new VitrineError('invalid_input', `activityId "${activityId}" was not placed by decision ${decisionId}`, {
        field: 'activityId',
      });
    }
    return { decision, activity };
  }

  /** startSignals() for callers that have no one to reject to (start-up, a model-load retry). */
  startSignalsOrReport(): Promise<void> {
    return this.startSignals().catch(this.report);
  }

  /**
   * Starts the signals stage when consent, an endpoint and a model are all there. One start at a
   * time: a model-load retry and setConsent('signals') may ask together, and one stage may run.
   * A bad endpoint or a broken IndexedDB rejects with a VitrineError, never a raw TypeError.
   */
  startSignals(): Promise<void> {
    const start = this.signalsStart
      .then(() => this.startSignalsNow())
      .catch((err) => {
        throw toVitrineError(err, 'signals_failed', 'signals could not start');
      });
    this.signalsStart = start.catch(() => undefined);
    return start;
  }

  private async startSignalsNow(): Promise<void> {
    const { options, internals, model } = this;
    if (this.signals || options.consent !== 'signals' || !options.endpoint || !model) return;
    // The whole signals stage is a lazy chunk: pages without consent never download it.
    const { startSignalsStage } = await import('./signals/start');
    // Closed, or consent withdrawn, while the chunk and the outbox were opening: start nothing.
    const stillWanted = () => !this.closed && options.consent === 'signals';
    const { stage, warning } = await startSignalsStage(model, {
      stillWanted,
      endpoint: options.endpoint,
      storage: options.storage,
      outbox: internals.outbox,
      now: this.now,
      random: this.random,
      loadShadow: (url) => loadShadowModel(url, options),
      onError: (message, cause) => this.report(new VitrineError('signals_failed', message, { cause })),
      flushDelayMs: internals.flushDelayMs ?? 30_000,
      privacyFloors: options.privacyFloors,
      segment: () => this.policy?.reportable(),
    });
    if (!stage) return;
    if (warning) this.status = { ...this.status, warnings: [...this.status.warnings, warning] };
    this.signals = stage;
  }

  privacyReport(): Promise<PrivacyReport | NoSignalsReport> {
    return settled(
      (async () => {
        if (this.signals) return this.signals.report();
        const consent = this.consent;
        return consent === 'signals' ? { consent: 'profile' as const, sent: null, requested: consent } : { consent, sent: null };
      })(),
      this.report,
    );
  }

  explain(decisionId: string, activityId: string): Promise<Explanation> {
    return settled(this.explainImpl(decisionId, activityId), this.report);
  }

  private async explainImpl(decisionIdIn: string, activityIdIn: string): Promise<Explanation> {
    if (this.closed) throw new VitrineError('closed', 'this Vitrine instance was closed');
    const { decisionId, activityId } = validateTrack(decisionIdIn, activityIdIn, 'view');
    const { decision, activity } = this.placed(decisionId, activityId);
    // The attribution scores the card several times: a lazy chunk, fetched on the first "why".
    const { explainPlacement } = await import('./policy/why');
    return explainPlacement(decisionId, activity, decision.inputs, this.encoder, this.scorer);
  }

  setConsent(consent: Consent): Promise<void> {
    const parsed = v.safeParse(ConsentSchema, consent);
    if (!parsed.success) {
      return settled(
        Promise.reject(new VitrineError('invalid_input', `consent ${parsed.issues[0].message}`, { field: 'consent' })),
        this.report,
      );
    }
    const next = parsed.output;
    const previous = this.consent;
    // Takes effect at once for rank() and track(); the storage work behind it runs in order.
    this.options.consent = next;
    this.status = { ...this.status, consent: next };
    const change = this.consentChange.then(() => this.applyConsent(previous, next));
    this.consentChange = change.catch(() => undefined);
    return settled(change, this.report);
  }

  private async applyConsent(previous: Consent, next: Consent): Promise<void> {
    if (next === 'signals') await this.startSignals();
    else {
      // Queued with the starts: a start under way finishes first (its stage is stopped too), and
      // a later setConsent('signals') starts only after this stop is done.
      const stop = this.signalsStart.then(async () => {
        await this.signals?.stop();
        this.signals = null;
        this.decisions.dropPlacements();
      });
      this.signalsStart = stop.catch(() => undefined);
      await stop;
    }
    // Switching the profile store is rare: a lazy chunk (shared with forget's erase).
    if (next === 'none') await (await import('./profile/erase')).eraseProfile(this);
    else if (previous === 'none') await (await import('./profile/erase')).reopenStore(this); // the store is the placeholder 'none' left
  }

  /** Clears a store and deletes its IndexedDB database (a lazy chunk: erasing is rare). */
  private async eraseStore(store: ProfileStore): Promise<void> {
    const { eraseStore } = await import('./profile/erase');
    await eraseStore(store);
  }

  flush(): Promise<void> {
    return settled(
      (async () => {
        if (!this.signals) return;
        await this.signals.settle();
        await this.signals.flush();
        await this.signals.settle();
      })(),
      this.report,
    );
  }

  setUser(user: FeatureRecord): Promise<void> {
    return settled(
      (async () => {
        this.user = { ...validateUser(user) };
      })(),
      this.report,
    );
  }

  exportProfile(): Promise<ProfileExport> {
    return settled(
      (async () => ({
        storage: this.consent === 'none' ? ('none' as const) : this.store.kind,
        schemaVersion: 1,
        user: { ...this.user },
        aggregates: this.profile,
        events: this.consent === 'none' ? [] : await this.store.events(),
        retention: DEFAULT_RETENTION,
      }))(),
      this.report,
    );
  }

  forget(): Promise<void> {
    return settled(this.forgetImpl(), this.report);
  }

  private async forgetImpl(): Promise<void> {
    this.forgotten = true;
    this.stopModelRetries();
    // A race finishing later would remember its result in the Cache API that forget() empties.
    this.stopBackgroundSelection('stopped by forget()');
    await this.signalsStart; // a start under way (setConsent, a retry) finishes first, so its stage is stopped too
    // Unsent signals go too; the privacy ledger (dates and costs only) stays, so forgetting
    // cannot reset the privacy budget.
    await this.signals?.stop();
    if (this.signals) {
      this.signals = null;
      await this.startSignals();
    }
    await this.consentChange; // a consent change under way finishes first
    this.decisions.clear();
    this.user = {};
    this.profile = emptyAggregates();
    this.policy?.profileErased();
    try {
      localStorage.removeItem('vitrine.holdout'); // the sticky holdout arm (policy/rules.ts ARM_KEY)
    } catch {
      /* no storage */
    }
    // The store stays usable: a closed IndexedDB store opens a fresh database on the next event.
    await this.eraseStore(this.store);
    // The model cache holds nothing personal, but "forget" promises an empty origin.
    if (typeof caches !== 'undefined') await caches.delete(MODEL_CACHE).catch(() => false);
  }

  close(): void {
    this.closed = true;
    this.stopModelRetries();
    this.stopBackgroundSelection('stopped by close()');
    this.signals?.close();
    this.scorer?.dispose();
    this.store.close();
  }
}

const hasWindow = (a: Activity) => a.startsAt !== undefined || a.endsAt !== undefined;

function allFinite(xs: Float32Array): boolean {
  for (let i = 0; i < xs.length; i++) if (!Number.isFinite(xs[i])) return false;
  return true;
}

/**
 * Creates a ranking client. Rejects only for invalid options; a model or backend that can't be
 * loaded gives a working client whose `status.degraded` says why (and when the load is tried
 * again) and whose `rank` returns the shop's own order until a retry succeeds.
 */
export function createVitrine(options: VitrineOptions, internals: VitrineInternals = {}): Promise<Vitrine> {
  return (async () => {
    const opts = validateOptions(options);
    if (opts.modelKey !== undefined) (await import('./model/pinned')).checkModelKeyShape(opts.modelKey);
    const progress = (p: Progress) => {
      try {
        opts.onProgress?.(p);
      } catch {
        /* never let a callback break init */
      }
    };
    // The store reports repairs and failures from its first read on; the client takes them once it exists.
    const attached: { client?: VitrineClient } = {};
    const early: string[] = [];
    const openStore = (): Promise<{ store: ProfileStore; warning?: string }> =>
      internals.profileStore
        ? Promise.resolve({ store: internals.profileStore })
        : openProfileStore(opts.storage ?? 'auto', opts.now ?? Date.now, {
            onRepair: (reason) => (attached.client ? attached.client.storageRepaired(reason) : early.push(reason)),
            onChange: (failure, cause) => attached.client?.storageChanged(failure, cause),
          });
    const consent = opts.consent ?? 'profile';
    // Consent 'none': no profile store is opened (no IndexedDB database is created).
    const storeP = consent === 'none' ? Promise.resolve({ store: new MemoryProfileStore(DEFAULT_RETENTION, opts.now) }) : openStore();
    // The model loads while the profile store opens; its failure is handled by useModel.
    const loading = loadModelParts(opts, progress);
    loading.catch(() => undefined);
    const { store, warning } = (await storeP) as { store: ProfileStore; warning?: string };
    const status: VitrineStatus = {
      ready: true,
      backend: 'rules',
      profile: consent === 'none' ? 'none' : store.kind,
      consent,
      warnings: [],
    };
    const client = new VitrineClient({ options: { ...opts, consent }, progress, store, openStore, internals, status });
    attached.client = client;
    for (const reason of early) client.storageRepaired(reason);
    // The rules chunk and the server's policy load beside the model; the shop's bad rules reject createVitrine.
    const rules = client.prepareRules();
    rules.catch(() => undefined);
    await client.useModel(loading);
    try {
      await rules;
    } catch (err) {
      client.close();
      throw err;
    }
    if (warning) client.status.warnings.push(warning);
    await client.loadProfile();
    await client.startSignalsOrReport();
    progress({ stage: 'ready', progress: 1 });
    // Off the critical path: it waits for an idle moment, after the page's first rank.
    client.startBackgroundSelection();
    return client as Vitrine;
  })();
}
