import { REWARDS, type Outcome } from '@vitrine/core/domain';
import { supportsUpdates } from '@vitrine/core/privacy';
import { BATCH_FIELD_DESCRIPTIONS, MAX_EVENTS_PER_BATCH, type PrivacyParameters } from '@vitrine/core/protocol';
import type { LoadedModel } from '../model/loader';
import { setTimer } from '../platform';
import type { StorageKind } from '../types';
import { PrivacyAccountant } from './accountant';
import { openBatch, recordOutcome, sealBatch, type BatchEnv } from './batch';
import { emptyLedger, type Ledger, type OutboxItem, type SignalOutbox } from './outbox';
import { fillPlacements, type Placement, type RankedSlate } from './placement';
import { fetchPrivacyParameters, updatesWanted } from './privacy-parameters';
import { BatchQueue } from './queue';
import { SignalSender } from './sender';
import { ShadowScorer } from './shadow';

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
 * The signals stage: wires the privacy parameters, shadow scoring, batch building, the
 * persistent queue and the sender, and owns the privacy ledger and the report. Only
 * constructed when the shop passed `consent: 'signals'` and an endpoint.
 */
export class SignalsStage {
  private params: PrivacyParameters | null = null;
  private accountant: PrivacyAccountant | null = null;
  private shadow: ShadowScorer | null = null;
  private ledger: Ledger = emptyLedger();
  private open: OutboxItem | null = null;
  private opening: Promise<void> | null = null;
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
    this.ready = this.start().catch((err) => this.env.onError(`signals: ${(err as Error).message}`, err));
    this.ready.catch(() => undefined);
    globalThis.addEventListener?.('pagehide', this.onPageHide);
    globalThis.document?.addEventListener?.('visibilitychange', this.onHidden);
  }

  private url(path: string): string {
    return new URL(path, this.env.endpoint.endsWith('/') ? this.env.endpoint : `${this.env.endpoint}/`).href;
  }

  private async start(): Promise<void> {
    this.ledger = await this.env.outbox.ledger();
    const stored = await this.env.outbox.list();
    try {
      this.params = await fetchPrivacyParameters(this.env.fetch, this.url('privacy'));
    } finally {
      // A batch left open by a closed or crashed page: seal it now (same id and noise seed, so
      // the server keeps one copy). Sealed batches wait for their acknowledgement.
      for (const item of stored) this.queue.restore(item.state === 'open' ? this.seal(item) : item);
    }
    this.accountant = new PrivacyAccountant(this.params, this.env.now);
    if (this.params.shadowModel && supportsUpdates(this.model.manifest)) {
      try {
        this.shadow = new ShadowScorer(await this.env.loadShadow(this.url(this.params.shadowModel)));
      } catch (err) {
        this.env.onError(`signals: shadow model ${this.params.shadowModel} not loaded (${(err as Error).message})`, err);
      }
    }
    for (const item of this.queue.items) await this.env.outbox.put(item);
    this.scheduleSend(0);
  }

  /**
   * Called by rank(): what the stage needs to remember about each placed item. The slot and
   * propensity are known now; the pre-activations and the shadow propensities are computed in
   * a task after rank() returns, so they add nothing to its latency.
   */
  placements(slateIn: RankedSlate): Map<string, Placement> {
    const slate = { ...slateIn, context: { ...slateIn.context } };
    const out = new Map<string, Placement>();
    const placed: [number, Placement][] = [];
    slate.order.forEach((i, slot) => {
      if (!this.catalog.has(slate.activities[i].id)) return; // never name an activity outside the published catalog
      const placement: Placement = { slot, propensity: slate.propensities[slot] };
      out.set(slate.activities[i].id, placement);
      placed.push([slot, placement]);
    });
    if (!placed.length) return out;
    const pending = new Promise<void>((resolve) =>
      setTimeout(() => {
        try {
          fillPlacements({ slate, placed, updateModel: this.wantsPreActivations() ? this.model : null, shadow: this.shadow });
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
   * Before the privacy parameters arrive (first rank of a page) the pre-activations are kept
   * anyway: a few hundred multiply-adds per placed item.
   */
  private wantsPreActivations(): boolean {
    if (!supportsUpdates(this.model.manifest)) return false;
    return !this.params || (this.params.update.model === this.model.manifest.version && this.accountant!.refusal(this.ledger) === null);
  }

  /** Called by track(): one event per placed item; a later, better outcome raises its reward. */
  async record(decisionId: string, activityId: string, placement: Placement, outcome: Outcome): Promise<void> {
    // A slow or unreachable server must not hold up track(): without the parameters yet, the
    // event still goes into a batch, just one without an update.
    await Promise.all([this.readyOrTimeout(), placement.pending]);
    if (this.stopped) return;
    // Concurrent track() calls share one opening batch (and one privacy charge).
    while (!this.open || this.open.model !== this.model.manifest.version) {
      this.opening ??= this.openBatch()
        .then((item) => {
          this.open = item;
        })
        .finally(() => {
          this.opening = null;
        });
      await this.opening;
      if (this.stopped) return;
    }
    const item = this.open;
    recordOutcome(item, {
      key: `${decisionId}:${activityId}`,
      activityId,
      placement,
      reward: REWARDS[outcome],
      at: this.env.now(),
      withShadow: this.shadow !== null,
    });
    if (item.events.length >= MAX_EVENTS_PER_BATCH) {
      this.open = null;
      void this.queue.add(this.seal(item));
      this.scheduleSend(0);
    } else {
      await this.queue.save(item);
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

  private async openBatch(): Promise<OutboxItem> {
    const { params, accountant } = this;
    const withUpdate =
      Boolean(params && accountant && updatesWanted(params, this.model.manifest)) && accountant!.refusal(this.ledger) === null;
    const item = openBatch({ model: this.model.manifest.version, shadow: this.shadow?.version, withUpdate }, this.batchEnv);
    if (withUpdate) {
      // The cost is charged, and stored with the batch, before anything can leave the device.
      this.ledger = this.accountant!.charge(this.ledger);
      await this.queue.saveWithLedger(item, this.ledger);
    }
    return item;
  }

  private seal(item: OutboxItem): OutboxItem {
    return sealBatch(item, { modelVersion: this.model.manifest.version, weights: this.model.weights, params: this.params });
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
    if (this.open && this.open.events.length) {
      const item = this.seal(this.open);
      this.open = null;
      void this.queue.add(item);
    }
    if (options.keepalive) return this.sendAll(true);
    return this.sendDue();
  }

  private async sendAll(keepalive: boolean): Promise<void> {
    if (!this.params || this.stopped) return;
    await this.sender.sendDue(keepalive);
  }

  private async acknowledged(item: OutboxItem): Promise<void> {
    if (!this.queue.take(item.id)) return;
    const { sent } = this.ledger;
    const body = item.body!;
    this.ledger = {
      ...this.ledger,
      sent: {
        batches: sent.batches + 1,
        events: sent.events + body.events.length,
        updates: sent.updates + (body.update ? 1 : 0),
        lastAt: this.env.now(),
      },
    };
    await this.queue.forget(item.id, this.ledger);
  }

  private async dropped(item: OutboxItem, reason: string): Promise<void> {
    this.queue.take(item.id);
    this.ledger = { ...this.ledger, dropped: { batches: this.ledger.dropped.batches + 1, lastReason: reason } };
    this.env.onError(`signals: the server refused batch ${item.id} (${reason}); dropped`);
    await this.queue.forget(item.id, this.ledger);
  }

  async report(): Promise<PrivacyReport> {
    await this.readyOrTimeout();
    const acc = this.accountant?.report(this.ledger);
    const pending = [...this.queue.items, ...(this.open ? [this.open] : [])];
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
      updates: !this.params ? 'privacy parameters not loaded' : (this.accountant!.refusal(this.ledger) ?? 'next batch carries an update'),
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
    this.stopped = true;
    this.cancelSeal?.();
    this.cancelSend?.();
    globalThis.removeEventListener?.('pagehide', this.onPageHide);
    globalThis.document?.removeEventListener?.('visibilitychange', this.onHidden);
    this.env.outbox.close();
  }
}

/**
 * Batch ids and noise seeds, always from the platform's CSPRNG: never `options.random`, which a
 * page may seed (a predictable seed would let the server subtract the device's local noise).
 * Signals only start with a verified model, and verifying needs WebCrypto, so it is there.
 */
function cryptoBytes(n: number): Uint8Array {
  return globalThis.crypto.getRandomValues(new Uint8Array(n));
}
