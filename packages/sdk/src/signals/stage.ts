import { toHex } from '@vitrine/core/bytes';
import { REWARDS, type Outcome } from '@vitrine/core/domain';
import { supportsUpdates } from '@vitrine/core/privacy';
import { randomizeCategory, reportRho } from '@vitrine/core/policy';
import { BATCH_FIELD_DESCRIPTIONS, MAX_EVENTS_PER_BATCH, type PrivacyParameters } from '@vitrine/core/protocol';
import type { LoadedModel } from '../model/loader';
import { setTimer } from '../platform';
import type { Activity, StorageKind } from '../types';
import { snapshotActivity } from '../policy/decision-log';
import { PrivacyAccountant } from './accountant';
import { addEvent, openBatch, outcomeEvent, sealBatch, type BatchEnv } from './batch';
import { emptyLedger, type Ledger, type OpenEvent, type OutboxItem, type SignalOutbox } from './outbox';
import { fillPlacements, type Placement, type RankedSlate } from './placement';
import { backoffDelay } from '../backoff';
import {
  DEFAULT_PRIVACY_FLOORS,
  fetchPrivacyParameters,
  privacyRefusal,
  shadowUrl,
  updatesWanted,
  type PrivacyFloors,
} from './privacy-parameters';
import { BatchQueue } from './queue';
import { SignalSender } from './sender';
import { SHADOW_MAX_CANDIDATES, ShadowScorer } from './shadow';

export type { Placement, RankedSlate } from './placement';

export interface SignalsEnv {
  endpoint: string;
  fetch: typeof fetch;
  outbox: SignalOutbox;
  now: () => number;
  random: () => number;
  loadShadow: (manifestUrl: string) => Promise<LoadedModel>;
  onError: (message: string, cause?: unknown) => void;
  /** Idle time before an open batch is sealed and sent. */
  flushDelayMs?: number;
  /** The weakest privacy parameters under which an update is attached (each default from DEFAULT_PRIVACY_FLOORS). */
  privacyFloors?: Partial<PrivacyFloors>;
  /** The device's segment among the server's published ones (`categories` − 1 means none), when the server publishes segments. */
  segment?: () => Promise<{ policy: string; index: number; categories: number } | null> | undefined;
}

type AccountantReport = ReturnType<PrivacyAccountant['report']>;

export interface PrivacyReport {
  consent: 'signals';
  endpoint: string;
  /** What one batch may hold, field by field. */
  fields: string[];
  parameters: PrivacyParameters | null;
  budget: AccountantReport['budget'] | null;
  spent: AccountantReport['spent'] | null;
  remaining: AccountantReport['remaining'] | null;
  sent: Ledger['sent'];
  dropped: Ledger['dropped'];
  pending: { batches: number; events: number };
  storage: StorageKind;
  /** Why no update is attached right now, if so. */
  updates: string;
}

/** track() and privacyReport() never wait longer than this for the privacy parameters. */
const READY_WAIT_MS = 2_000;
/**
 * Privacy parameters that could not be fetched (server down at page load) are fetched again:
 * 2 s, 4 s … (jittered) up to 5 minutes, and when the browser comes back online; until then
 * batches wait in the outbox.
 */
const PARAMS_RETRY_BASE_MS = 2_000;
const PARAMS_RETRY_CAP_MS = 5 * 60_000;

/**
 * An open batch untouched for this long belongs to no live tab, and another tab may seal it.
 * A live tab never leaves its batch untouched that long: it seals it after a few seconds idle
 * and, once hidden, on visibilitychange; only its timers may lag, as browsers throttle those of
 * background tabs to once a minute. So a batch this old was left by a crashed page (or one
 * whose machine slept; when it wakes it finds the batch sealed and keeps its newer events).
 */
export const ABANDONED_AFTER_MS = 10 * 60_000;

/** This tab's open batch, and what of it the outbox is known to hold. */
interface OwnBatch {
  item: OutboxItem;
  /** Reward per event key in the last copy written: what another tab sealing the batch would send. */
  stored: Map<string, number>;
  /** touchedAt of that copy; null when none could be written (IndexedDB failing). */
  storedAt: number | null;
  /** Sealed by another tab: its unstored events have moved to a fresh batch. */
  taken?: boolean;
}

/**
 * The signals stage: wires the privacy parameters, shadow scoring, batch building, the
 * persistent queue and the sender, and owns the privacy ledger and the report. Only
 * constructed when the shop passed `consent: 'signals'` and an endpoint.
 */
export class SignalsStage {
  private params: PrivacyParameters | null = null;
  /** Why the published parameters are below this device's floors (then no update is attached). */
  private paramsRefusal: string | null = null;
  private accountant: PrivacyAccountant | null = null;
  /** Open batches of closed tabs, found at start: sealed once the parameters are known. */
  private abandoned: OutboxItem[] = [];
  private paramsAttempts = 0;
  private cancelParams?: () => void;
  private readonly onOnline = () => void this.loadParameters();
  private shadow: ShadowScorer | null = null;
  private ledger: Ledger = emptyLedger();
  private open: OwnBatch | null = null;
  private opening: Promise<void> | null = null;
  /** Names this tab's batches in the shared outbox (random, never sent): other tabs leave them alone while it is alive. */
  private readonly owner = toHex(cryptoBytes(16));
  /** Releases this tab's liveness lock (Web Locks), which tells other tabs its batches are not abandoned. */
  private readonly releaseLiveness: () => void;
  /** Seals the open batch after the idle delay; separate from the send timer so a send pass never seals early. */
  private cancelSeal?: () => void;
  private cancelSend?: () => void;
  private sending: Promise<void> | null = null;
  private stopped = false;
  private readonly queue: BatchQueue;
  private readonly sender: SignalSender;
  private readonly batchEnv: BatchEnv;
  /** Activity ids of the published catalog: nothing else is ever named in a batch. */
  private readonly catalog: Set<string>;
  private readonly ready: Promise<void>;
  /** Page exit (hidden, then pagehide): what is pending goes out with keepalive. */
  private readonly onPageHide = () => {
    void this.flush({ keepalive: true });
  };
  private readonly onHidden = () => {
    if (globalThis.document?.visibilityState === 'hidden') this.onPageHide();
  };

  constructor(
    private readonly model: LoadedModel,
    private readonly env: SignalsEnv,
  ) {
    const ids = model.manifest.featureSpec.features.find((f) => f.kind === 'categorical' && f.source === 'activity' && f.key === 'id');
    this.catalog = new Set(ids && 'vocab' in ids ? ids.vocab : []);
    this.batchEnv = { now: env.now, randomBytes: cryptoBytes };
    this.queue = new BatchQueue(env.outbox, env.onError);
    this.sender = new SignalSender(
      { fetch: env.fetch, url: this.url('signals'), now: env.now, random: env.random, wake: (delayMs) => this.scheduleSend(delayMs) },
      this.queue,
      { acknowledged: (item) => this.acknowledged(item), dropped: (item, reason) => this.dropped(item, reason) },
    );
    this.releaseLiveness = holdLiveness(this.owner);
    this.ready = this.start().catch((err) => this.env.onError(`signals: ${(err as Error).message}`, err));
    this.ready.catch(() => undefined);
    globalThis.addEventListener?.('pagehide', this.onPageHide);
    globalThis.document?.addEventListener?.('visibilitychange', this.onHidden);
  }

  private url(path: string): string {
    return new URL(path, this.env.endpoint.endsWith('/') ? this.env.endpoint : `${this.env.endpoint}/`).href;
  }

  private async start(): Promise<void> {
    // Listed first: dropping a corrupt record counts it in the stored ledger.
    const stored = await this.env.outbox.list();
    this.ledger = await this.env.outbox.ledger();
    // Sealed batches wait for their acknowledgement. An open one is another tab's (this stage's
    // owner is new, and its own batches come later), being filled, unless that tab is gone: then
    // it is sealed once the parameters are known (same id and bytes whichever tab seals it, so
    // the server keeps one copy).
    const live = await liveOwners();
    for (const item of stored) {
      if (item.state === 'sealed') this.queue.restore(item);
      else if ((live && !live.has(item.owner)) || this.env.now() - item.touchedAt >= ABANDONED_AFTER_MS) this.abandoned.push(item);
    }
    globalThis.addEventListener?.('online', this.onOnline);
    await this.loadParameters();
  }

  /** Fetches the privacy parameters; on failure reports it and tries again later (backoff, or when back online). */
  private async loadParameters(): Promise<void> {
    if (this.params || this.stopped) return;
    this.cancelParams?.();
    let params: PrivacyParameters;
    try {
      params = await fetchPrivacyParameters(this.env.fetch, this.url('privacy'));
    } catch (err) {
      if (this.params || this.stopped) return;
      const delay = backoffDelay(this.paramsAttempts++, this.env.random, PARAMS_RETRY_BASE_MS, PARAMS_RETRY_CAP_MS);
      this.cancelParams = setTimer(() => void this.loadParameters(), delay);
      this.env.onError(`signals: privacy parameters unavailable (${(err as Error).message}); retry in ${Math.ceil(delay / 1000)} s`, err);
      return;
    }
    if (this.params || this.stopped) return;
    this.params = params;
    this.paramsRefusal = privacyRefusal(params, { ...DEFAULT_PRIVACY_FLOORS, ...this.env.privacyFloors });
    if (this.paramsRefusal) this.env.onError(`signals: no model updates: ${this.paramsRefusal}`);
    this.accountant = new PrivacyAccountant(params, this.env.now);
    for (const item of this.abandoned.splice(0)) {
      const sealed = this.seal(item);
      // Only the copy read above: if its tab woke up and wrote it since, the batch is still that tab's.
      const unchanged = (current: OutboxItem | undefined) => current?.state === 'open' && current.touchedAt === item.touchedAt;
      if ((await this.queue.saveIf(sealed, unchanged)) !== 'refused') this.queue.restore(sealed);
    }
    if (params.shadowModel && supportsUpdates(this.model.manifest)) await this.loadShadowModel(params.shadowModel);
    this.scheduleSend(0);
  }

  private async loadShadowModel(shadowModel: string): Promise<void> {
    const target = shadowUrl(shadowModel, this.url(''));
    if ('refused' in target) {
      this.env.onError(`signals: ${target.refused}`);
      return;
    }
    try {
      this.shadow = new ShadowScorer(await this.env.loadShadow(target.url));
    } catch (err) {
      this.env.onError(`signals: shadow model ${shadowModel} not loaded (${(err as Error).message})`, err);
    }
  }

  /**
   * Called by rank(): what the stage needs to remember about each placed item. The slot and
   * propensity are known now; the head examples and the shadow propensities are computed in
   * a task after rank() returns, so they add nothing to its latency.
   */
  placements(slateIn: RankedSlate): Map<string, Placement> {
    // The work below runs after rank() has returned: it reads copies, never the page's objects
    // (all candidates when the shadow will score them, else the placed ones).
    const all = slateIn.activities;
    const everyOne = this.shadow !== null && all.length <= SHADOW_MAX_CANDIDATES;
    const activities = everyOne ? all.map(snapshotActivity) : new Array<Activity>(all.length);
    if (!everyOne) for (const i of slateIn.order) activities[i] = snapshotActivity(all[i]);
    const slate = { ...slateIn, activities, context: { ...slateIn.context } };
    const out = new Map<string, Placement>();
    const placed: [number, Placement][] = [];
    slate.order.forEach((i, slot) => {
      if (!this.catalog.has(slate.activities[i].id)) return; // never name an activity outside the published catalog
      const placement: Placement = {
        slot,
        propensity: slate.propensities[slot],
        ...(slate.arm === 'control' ? { control: true as const } : {}),
      };
      out.set(slate.activities[i].id, placement);
      placed.push([slot, placement]);
    });
    if (!placed.length) return out;
    const pending = new Promise<void>((resolve) =>
      setTimeout(() => {
        try {
          fillPlacements({ slate, placed, updateModel: this.wantsHeadExamples() ? this.model : null, shadow: this.shadow });
        } catch (err) {
          this.env.onError(`signals: could not prepare the update terms (${(err as Error).message})`, err);
        }
        resolve();
      }, 0),
    );
    for (const [, placement] of placed) placement.pending = pending;
    return out;
  }

  /**
   * Head examples are wanted while the open batch carries an update (it was charged, so the
   * ledger now refuses the next one) or the next batch may. Before the privacy parameters
   * arrive (first rank of a page) they are kept anyway: one forward pass per placed item.
   */
  private wantsHeadExamples(): boolean {
    if (!supportsUpdates(this.model.manifest) || this.paramsRefusal) return false;
    if (!this.params || this.open?.item.withUpdate) return true;
    return this.params.update.model === this.model.manifest.version && this.accountant!.refusal(this.ledger) === null;
  }

  /** Called by track(): one event per placed item; a later, better outcome raises its reward. */
  async record(decisionId: string, activityId: string, placement: Placement, outcome: Outcome): Promise<void> {
    // A slow or unreachable server must not hold up track(): without the parameters yet, the
    // event still goes into a batch, just one without an update.
    await Promise.all([this.readyOrTimeout(), placement.pending]);
    if (this.stopped) return;
    const key = `${decisionId}:${activityId}`;
    await this.add(
      outcomeEvent({ key, activityId, placement, reward: REWARDS[outcome], at: this.env.now(), withShadow: this.shadow !== null }),
    );
  }

  /** Adds an event to this tab's open batch (opening one if needed) and saves or seals the batch. */
  private async add(event: OpenEvent): Promise<void> {
    if (this.stopped) return; // consent withdrawn: no new batch, and no new charge
    // Concurrent track() calls share one opening batch (and one privacy charge).
    while (!this.open || this.open.item.model !== this.model.manifest.version) {
      this.opening ??= this.openBatch()
        .then((batch) => {
          this.open = batch;
        })
        .finally(() => {
          this.opening = null;
        });
      await this.opening;
      if (this.stopped) return;
    }
    // Read after the last await: a batch another call has just sealed is never added to.
    const batch = this.open;
    addEvent(batch.item, event);
    if (batch.item.events.length >= MAX_EVENTS_PER_BATCH) {
      this.open = null;
      await this.sealOwn(batch);
      this.scheduleSend(0);
    } else {
      await this.saveOwn(batch);
      this.scheduleSeal(this.env.flushDelayMs ?? 5_000);
    }
  }

  private readyOrTimeout(): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<void>((r) => {
      timer = setTimeout(r, READY_WAIT_MS);
    });
    return Promise.race([this.ready, timeout]).finally(() => clearTimeout(timer));
  }

  private async openBatch(): Promise<OwnBatch> {
    const { params, accountant } = this;
    const charging = params && accountant && !this.paramsRefusal && updatesWanted(params, this.model.manifest) ? accountant : null;
    const item = openBatch(
      { model: this.model.manifest.version, shadow: this.shadow?.version, withUpdate: charging !== null, owner: this.owner },
      this.batchEnv,
    );
    try {
      // The cost is charged, and stored with the batch, before anything can leave the device;
      // checked against the ledger as stored, in the same transaction, so that two tabs of the
      // shopper opening batches at once charge (and send an update) once.
      if (charging) await this.attachSegment(item, params!);
      const opened = await this.queue.openWithCharge(item, (ledger) =>
        charging && charging.refusal(ledger) === null ? charging.charge(ledger) : null,
      );
      if (!opened.item.withUpdate) delete opened.item.segment;
      this.ledger = opened.ledger;
      return { item: opened.item, stored: new Map(), storedAt: opened.item.touchedAt };
    } catch (err) {
      // No charge was stored, so no update: the events still go out, from memory.
      this.env.onError(`signals: could not store a new batch (${(err as Error).message})`, err);
      const { segment: _, ...rest } = item;
      return { item: { ...rest, withUpdate: false }, stored: new Map(), storedAt: null };
    }
  }

  /**
   * A batch that may carry an update also carries the device's segment through k-ary randomized
   * response (ε = the published segmentEpsilon), randomized here with crypto randomness; only the
   * randomized value is stored or sent. Only when the published cost of a contribution covers
   * both the Gaussian releases (μ² = 1/z_g² + 1/z_h² from the published noise multipliers) and the
   * report (`reportRho`): otherwise the ledger would under-count it, so no report is attached.
   */
  private async attachSegment(item: OutboxItem, params: PrivacyParameters): Promise<void> {
    const u = params.update;
    const epsilon = u.segmentEpsilon;
    const gaussian = (1 / u.noiseMultiplierGradient ** 2 + 1 / u.noiseMultiplierCurvature ** 2) / 2;
    if (!epsilon || u.rhoPerContribution < (gaussian + reportRho(epsilon)) * (1 - 1e-9)) return;
    try {
      const segment = await this.env.segment?.();
      if (!segment) return;
      const uniform = () => new DataView(cryptoBytes(4).buffer).getUint32(0) / 2 ** 32;
      item.segment = { policy: segment.policy, index: randomizeCategory(segment.index, segment.categories, epsilon, uniform) };
    } catch (err) {
      this.env.onError(`signals: no segment report (${(err as Error).message})`, err);
    }
  }

  /**
   * Saves this tab's open batch, unless another tab has sealed it meanwhile (its copy then
   * stands: overwriting it would lose the events that tab sent, or resend them under the same id).
   */
  private async saveOwn(batch: OwnBatch): Promise<void> {
    if (batch.taken) return;
    const touchedAt = this.env.now();
    batch.item.touchedAt = touchedAt;
    // The outbox writes the item as it is now, whatever is added meanwhile: so does `saving`.
    const saving = new Map(batch.item.events.map((e) => [e.key, e.reward]));
    const result = await this.queue.saveIf(batch.item, this.stillOpen(batch));
    if (result === 'written') {
      batch.stored = saving;
      batch.storedAt = touchedAt;
    } else if (result === 'refused') await this.takenOver(batch);
  }

  /** Seals this tab's open batch and queues it for sending. */
  private async sealOwn(batch: OwnBatch): Promise<void> {
    if (batch.taken) return;
    const sealed = this.seal(batch.item);
    if (this.surelyOwn(batch)) {
      // Queued at once (see flush: at page exit, the keepalive send starts before the page goes).
      await this.queue.add(sealed);
      return;
    }
    // Untouched for long (this machine slept?): another tab may have sealed it first.
    const result = await this.queue.saveIf(sealed, this.stillOpen(batch));
    if (result === 'refused') await this.takenOver(batch);
    else this.queue.restore(sealed);
  }

  /**
   * Whether no other tab can have sealed the batch: its last write is recent (another tab seals
   * only a batch whose stored copy is ABANDONED_AFTER_MS old), or it was never written.
   */
  private surelyOwn(batch: OwnBatch): boolean {
    return batch.storedAt === null || this.env.now() - batch.storedAt < ABANDONED_AFTER_MS;
  }

  /** Whether the stored copy is still this tab's open batch (absent only if it was never written). */
  private stillOpen(batch: OwnBatch) {
    return (current: OutboxItem | undefined) => (current ? current.state === 'open' : batch.storedAt === null);
  }

  /**
   * Another tab sealed this tab's batch (or sent and deleted it) with the events of the last
   * stored copy. The events recorded since, and rewards raised since, go into a fresh batch:
   * nothing is lost, and nothing is sent twice under one id.
   */
  private async takenOver(batch: OwnBatch): Promise<void> {
    if (batch.taken) return;
    batch.taken = true;
    if (this.open === batch) this.open = null;
    const unsent = batch.item.events.filter((e) => !((batch.stored.get(e.key) ?? -Infinity) >= e.reward));
    for (const event of unsent) await this.add(event);
  }

  /**
   * Seals a batch with the parameters in force: none (no update attached) when they are below
   * this device's floors or ask for no update of this model, even for a batch charged on an
   * earlier page under other parameters (its charge stays: an overcount, never an undercount).
   */
  private seal(item: OutboxItem): OutboxItem {
    const { params } = this;
    const inForce = params && !this.paramsRefusal && updatesWanted(params, this.model.manifest) ? params : null;
    return sealBatch(item, { modelVersion: this.model.manifest.version, params: inForce });
  }

  /** The open batch is sealed and sent after `delayMs` without a new event. */
  private scheduleSeal(delayMs: number): void {
    this.cancelSeal?.();
    if (!this.stopped) this.cancelSeal = setTimer(() => void this.flush(), delayMs);
  }

  /** Sealed batches that are due are sent after `delayMs`; the open batch stays open. */
  private scheduleSend(delayMs: number): void {
    this.cancelSend?.();
    if (!this.stopped) this.cancelSend = setTimer(() => void this.sendDue(), delayMs);
  }

  private sendDue(): Promise<void> {
    this.sending ??= this.sendAll(false).finally(() => {
      this.sending = null;
    });
    return this.sending;
  }

  /** Seals the open batch and sends what is due. `keepalive` for page exit. */
  flush(options: { keepalive?: boolean } = {}): Promise<void> {
    const mayBeTaken = this.open !== null && !this.surelyOwn(this.open);
    const sealing = this.sealOpen();
    if (!options.keepalive) return sealing.then(() => this.sendDue());
    // A batch this tab surely owns is queued before sealOpen's first await, so its keepalive
    // send starts now, while the page is still there; one that another tab may have sealed
    // goes out once the outbox has told whose it is.
    if (mayBeTaken) return sealing.then(() => this.sendAll(true));
    return Promise.all([sealing, this.sendAll(true)]).then(() => undefined);
  }

  /** Seals the open batch, and the fresh one its newer events moved to if another tab had sealed it. */
  private async sealOpen(): Promise<void> {
    const batch = this.open;
    if (!batch || !batch.item.events.length) return;
    this.open = null;
    await this.sealOwn(batch);
    if (batch.taken) await this.sealOpen();
  }

  private async sendAll(keepalive: boolean): Promise<void> {
    if (!this.params || this.stopped) {
      // A flush while the parameters are missing (server down at page load) is a good moment to ask again.
      if (!keepalive) void this.loadParameters();
      return;
    }
    await this.sender.sendDue(keepalive);
  }

  private async acknowledged(item: OutboxItem): Promise<void> {
    if (!this.queue.take(item.id)) return;
    const body = item.body!;
    await this.forget(item.id, (ledger) => ({
      ...ledger,
      sent: {
        batches: ledger.sent.batches + 1,
        events: ledger.sent.events + body.events.length,
        updates: ledger.sent.updates + (body.update ? 1 : 0),
        lastAt: this.env.now(),
      },
    }));
  }

  private async dropped(item: OutboxItem, reason: string): Promise<void> {
    this.queue.take(item.id);
    this.env.onError(`signals: the server refused batch ${item.id} (${reason}); dropped`);
    await this.forget(item.id, (ledger) => ({ ...ledger, dropped: { batches: ledger.dropped.batches + 1, lastReason: reason } }));
  }

  /**
   * Deletes a batch and counts it in the ledger. The count is applied to the stored ledger, not
   * this tab's copy, which may lack what other tabs charged or counted since it was read.
   */
  private async forget(id: string, change: (ledger: Ledger) => Ledger): Promise<void> {
    this.ledger = change(this.ledger);
    this.ledger = (await this.queue.forget(id, change)) ?? this.ledger;
  }

  async report(): Promise<PrivacyReport> {
    await this.readyOrTimeout();
    const acc = this.accountant?.report(this.ledger);
    const pending = [...this.queue.items, ...(this.open ? [this.open.item] : [])];
    return {
      consent: 'signals',
      endpoint: this.env.endpoint,
      fields: [...BATCH_FIELD_DESCRIPTIONS],
      parameters: this.params,
      budget: acc?.budget ?? null,
      spent: acc?.spent ?? null,
      remaining: acc?.remaining ?? null,
      sent: this.ledger.sent,
      dropped: this.ledger.dropped,
      pending: { batches: pending.length, events: pending.reduce((s, i) => s + (i.body?.events.length ?? i.events.length), 0) },
      storage: this.env.outbox.kind,
      updates: !this.params
        ? 'privacy parameters not loaded'
        : this.paramsRefusal
          ? `refused: ${this.paramsRefusal}`
          : (this.accountant!.refusal(this.ledger) ?? 'next batch carries an update'),
    };
  }

  /** Waits for pending writes (tests, page exit). */
  async settle(): Promise<void> {
    await this.ready;
    await this.queue.settled();
    await this.sending;
  }

  /** Consent withdrawn or profile forgotten: nothing more is sent, the queue is emptied (the ledger stays) and the stage closes. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.cancelSeal?.();
    this.cancelSend?.();
    this.open = null;
    await this.queue.clear();
    this.close();
  }

  close(): void {
    this.releaseLiveness();
    this.stopped = true;
    this.cancelSeal?.();
    this.cancelSend?.();
    this.cancelParams?.();
    globalThis.removeEventListener?.('online', this.onOnline);
    globalThis.removeEventListener?.('pagehide', this.onPageHide);
    globalThis.document?.removeEventListener?.('visibilitychange', this.onHidden);
    this.env.outbox.close();
  }
}

/**
 * Batch ids, always from the platform's CSPRNG: never `options.random`, which a page may seed
 * (predictable ids would let one device's batches be linked or pre-empted).
 * Signals only start with a verified model, and verifying needs WebCrypto, so it is there.
 */
function cryptoBytes(n: number): Uint8Array {
  return globalThis.crypto.getRandomValues(new Uint8Array(n));
}

const LIVENESS_LOCK = 'vitrine-signals-tab:';

/**
 * Holds a Web Lock named after this tab's owner id for the tab's life: the browser releases it
 * when the tab closes or crashes, so another tab can tell a reloaded page's open batch (seal it
 * now) from a live tab's (leave it). Without Web Locks, only ABANDONED_AFTER_MS tells them apart.
 */
function holdLiveness(owner: string): () => void {
  const locks = (globalThis.navigator as Navigator | undefined)?.locks;
  if (!locks?.request) return () => undefined;
  let release: () => void = () => undefined;
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  locks.request(`${LIVENESS_LOCK}${owner}`, () => held).catch(() => undefined);
  return release;
}

/** Owners of live tabs (their liveness locks are held), or null when Web Locks are unavailable. */
async function liveOwners(): Promise<Set<string> | null> {
  const locks = (globalThis.navigator as Navigator | undefined)?.locks;
  if (!locks?.query) return null;
  try {
    const { held = [] } = await locks.query();
    return new Set(
      held
        .map((l) => l.name ?? '')
        .filter((n) => n.startsWith(LIVENESS_LOCK))
        .map((n) => n.slice(LIVENESS_LOCK.length)),
    );
  } catch {
    return null;
  }
}
