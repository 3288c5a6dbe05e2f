import * as v from 'valibot';
import { toHex } from '@vitrine/core/bytes';
import { FeatureEncoder, type ProfileAggregates } from '@vitrine/core/features';
import type { LoadedModel } from '../model/loader';
import { referenceScores } from '@vitrine/core/artifact';
import { REWARDS, type Activity, type FeatureRecord, type Outcome } from '@vitrine/core/domain';
import { PrivacyAccountant } from './accountant';
import { clippedNoisedGradient, gaussian, noiseSeed, preActivations, seededUniform, supportsUpdates, updateDimension } from '@vitrine/core/privacy';
import { emptyLedger, type Ledger, type OutboxItem, type SignalOutbox } from './outbox';
import { MAX_BODY_BYTES, MAX_EVENTS_PER_BATCH, PrivacySchema, SIGNALS_FORMAT, timeBucket, type PrivacyParameters, type WireBatch } from '@vitrine/core/protocol';

/** What the stage keeps per placed item of a decision, until the shopper acts on it. */
export interface Placement {
  slot: number;
  p: number;
  z?: Float32Array;
  q?: number;
  /** z and q are computed after rank() has returned (off its latency); track() waits for this. */
  pending?: Promise<void>;
}

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

export interface PrivacyReport {
  consent: 'signals';
  endpoint: string;
  /** What one batch may hold, field by field. */
  fields: string[];
  parameters: PrivacyParameters | null;
  budget: ReturnType<PrivacyAccountant['report']>['budget'] | null;
  spent: ReturnType<PrivacyAccountant['report']>['spent'] | null;
  remaining: ReturnType<PrivacyAccountant['report']>['remaining'] | null;
  sent: Ledger['sent'];
  dropped: Ledger['dropped'];
  pending: { batches: number; events: number };
  storage: 'indexeddb' | 'memory';
  /** Why no update is attached right now, if so. */
  updates: string;
}

const BASE_BACKOFF_MS = 2_000;
const MAX_BACKOFF_MS = 10 * 60_000;
/** Attempts per page life; what is left waits in the outbox for the next page load. */
const MAX_ATTEMPTS_PER_PAGE = 8;
/** Shadow propensities need the shadow's scores for every candidate: bounded work per rank. */
const SHADOW_MAX_CANDIDATES = 256;
/** track() and privacyReport() never wait longer than this for the privacy parameters. */
const READY_WAIT_MS = 2_000;
const PRIVACY_TIMEOUT_MS = 10_000;

/**
 * The signals stage: turns tracked outcomes into anonymized batches, persists them until the
 * server acknowledges them, and sends them without cookies or identifiers. Only constructed
 * when the shop passed `consent: 'signals'` and an endpoint.
 */
export class SignalsStage {
  private params: PrivacyParameters | null = null;
  private accountant: PrivacyAccountant | null = null;
  private shadow: { model: LoadedModel; encoder: FeatureEncoder } | null = null;
  private ledger: Ledger = emptyLedger();
  private open: OutboxItem | null = null;
  private opening: Promise<void> | null = null;
  private sealed = new Map<string, OutboxItem>();
  private attempts = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private sending: Promise<void> | null = null;
  /** Batches sent with keepalive and not answered yet (hidden + pagehide must not send them twice). */
  private inFlight = new Set<string>();
  private readonly catalog: Set<string>;
  private readonly ready: Promise<void>;
  private stopped = false;
  private persist: Promise<unknown> = Promise.resolve();

  constructor(private readonly model: LoadedModel, private readonly env: SignalsEnv) {
    const ids = model.manifest.featureSpec.features.find((f) => f.kind === 'categorical' && f.source === 'activity' && f.key === 'id');
    this.catalog = new Set(ids && 'vocab' in ids ? ids.vocab : []);
    this.ready = this.start().catch((err) => this.env.onError(`signals: ${(err as Error).message}`, err));
    this.ready.catch(() => undefined);
  }

  private url(path: string): string {
    return new URL(path, this.env.endpoint.endsWith('/') ? this.env.endpoint : `${this.env.endpoint}/`).href;
  }

  private async start(): Promise<void> {
    this.ledger = await this.env.outbox.ledger();
    const stored = await this.env.outbox.list();
    try {
      const res = await this.env.fetch(this.url('privacy'), { credentials: 'omit', cache: 'no-cache', signal: AbortSignal.timeout(PRIVACY_TIMEOUT_MS) });
      if (!res.ok) throw new Error(`GET privacy answered ${res.status}`);
      const parsed = v.safeParse(PrivacySchema, await res.json());
      if (!parsed.success) throw new Error(`privacy parameters invalid at ${v.getDotPath(parsed.issues[0])}: ${parsed.issues[0].message}`);
      this.params = parsed.output;
    } finally {
      // A batch left open by a closed or crashed page: seal it now (same id and noise seed, so
      // the server keeps one copy). Sealed batches wait for their acknowledgement.
      for (const item of stored) this.sealed.set(item.id, item.state === 'open' ? this.seal(item) : item);
    }
    this.accountant = new PrivacyAccountant(this.params, this.env.now);
    if (this.params.shadowModel && supportsUpdates(this.model.manifest)) {
      try {
        const shadow = await this.env.loadShadow(this.url(this.params.shadowModel));
        this.shadow = { model: shadow, encoder: new FeatureEncoder(shadow.manifest.featureSpec) };
      } catch (err) {
        this.env.onError(`signals: shadow model ${this.params.shadowModel} not loaded (${(err as Error).message})`, err);
      }
    }
    for (const item of this.sealed.values()) await this.env.outbox.put(item);
    this.schedule(0);
  }

  /**
   * Called by rank(): what the stage needs to remember about each placed item. The slot and
   * propensity are known now; the pre-activations and the shadow propensities are computed in
   * a task after rank() returns, so they add nothing to its latency.
   */
  placements(activities: Activity[], order: number[], propensities: number[], epsilon: number, encoder: FeatureEncoder, contextIn: FeatureRecord, user: FeatureRecord, profile: ProfileAggregates): Map<string, Placement> {
    const out = new Map<string, Placement>();
    const context = { ...contextIn };
    const entries: [number, Placement][] = [];
    order.forEach((i, pos) => {
      if (!this.catalog.has(activities[i].id)) return; // never name an activity outside the published catalog
      const placement: Placement = { slot: pos, p: propensities[pos] };
      out.set(activities[i].id, placement);
      entries.push([pos, placement]);
    });
    if (!entries.length) return out;
    const pending = new Promise<void>((resolve) => setTimeout(() => {
      try {
        this.fillPlacements(entries, activities, order, epsilon, encoder, context, user, profile);
      } catch (err) {
        this.env.onError(`signals: could not prepare the update terms (${(err as Error).message})`, err);
      }
      resolve();
    }, 0));
    for (const [, placement] of entries) placement.pending = pending;
    return out;
  }

  private fillPlacements(entries: [number, Placement][], activities: Activity[], order: number[], epsilon: number, encoder: FeatureEncoder, context: FeatureRecord, user: FeatureRecord, profile: ProfileAggregates): void {
    // Before the privacy parameters arrive (first rank of a page) the pre-activations are kept
    // anyway: a few hundred multiply-adds per placed item.
    const wantsUpdate = supportsUpdates(this.model.manifest) && (!this.params || (this.params.update.model === this.model.manifest.version && this.accountant!.refusal(this.ledger) === null));
    if (wantsUpdate) {
      const placed = entries.map(([pos]) => activities[order[pos]]);
      const z = preActivations(this.model.weights.get('layers.0.kernel')!, encoder.encodeBatch(placed, context, user, profile), placed.length, encoder.dimension, this.model.manifest.architecture.layers[0].units);
      entries.forEach(([, placement], k) => { placement.z = z[k]; });
    }
    const n = activities.length;
    if (this.shadow && n <= SHADOW_MAX_CANDIDATES) {
      const rows = this.shadow.encoder.encodeBatch(activities, context, user, profile);
      const scores = referenceScores(this.shadow.model.manifest, this.shadow.model.weights, rows, n);
      const greedy = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[b] - scores[a] || a - b);
      const eps = n > 1 ? epsilon : 0;
      for (const [pos, placement] of entries) placement.q = (1 - eps) * (greedy[pos] === order[pos] ? 1 : 0) + eps / n;
    }
  }

  /** Called by track(): one event per placed item; a later, better outcome raises its reward. */
  async record(decisionId: string, activityId: string, placement: Placement, outcome: Outcome): Promise<void> {
    // A slow or unreachable server must not hold up track(): without the parameters yet, the
    // event still goes into a batch, just one without an update.
    await Promise.all([this.readyOrTimeout(), placement.pending]);
    if (this.stopped) return;
    const key = `${decisionId}:${activityId}`;
    const reward = REWARDS[outcome];
    // Concurrent track() calls share one opening batch (and one privacy charge).
    while (!this.open || this.open.model !== this.model.manifest.version) {
      this.opening ??= this.openBatch().then((item) => { this.open = item; }).finally(() => { this.opening = null; });
      await this.opening;
      if (this.stopped) return;
    }
    const item = this.open;
    const existing = item.events.find((e) => e.key === key);
    if (existing) {
      existing.r = Math.max(existing.r, reward);
    } else {
      item.events.push({
        key, a: activityId, s: placement.slot, p: placement.p, r: reward, t: timeBucket(this.env.now()),
        ...(placement.q !== undefined && this.shadow ? { q: placement.q } : {}),
        ...(placement.z && item.withUpdate ? { z: Array.from(placement.z) } : {}),
      });
    }
    if (item.events.length >= MAX_EVENTS_PER_BATCH) {
      this.open = null;
      this.enqueue(this.seal(item));
    } else {
      await this.save(item);
      this.schedule(this.env.flushDelayMs ?? 5_000);
    }
  }

  private readyOrTimeout(): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    return Promise.race([this.ready, new Promise<void>((r) => { timer = setTimeout(r, READY_WAIT_MS); })]).finally(() => clearTimeout(timer));
  }

  private async openBatch(): Promise<OutboxItem> {
    const withUpdate = Boolean(this.params && this.accountant && this.params.update.model === this.model.manifest.version && supportsUpdates(this.model.manifest)
      && this.params.update.dimension === updateDimension(this.model.manifest) && this.accountant!.refusal(this.ledger) === null);
    const item: OutboxItem = {
      id: randomHex(16, this.env.random), state: 'open', model: this.model.manifest.version,
      ...(this.shadow ? { shadow: this.shadow.model.manifest.version } : {}),
      events: [], withUpdate, ...(withUpdate ? { noiseSeed: noiseSeed() } : {}), attempts: 0, nextAt: 0, createdAt: this.env.now(),
    };
    if (withUpdate) {
      // The cost is charged, and stored with the batch, before anything can leave the device.
      this.ledger = this.accountant!.charge(this.ledger);
      await this.track(this.env.outbox.putWithLedger(item, this.ledger));
    }
    return item;
  }

  /** Builds the exact body: events without their keys and pre-activations, plus the update. */
  private seal(item: OutboxItem): OutboxItem {
    const examples = item.events.filter((e) => e.z).map((e) => ({ z: Float32Array.from(e.z!), y: e.r }));
    let update: WireBatch['update'];
    if (item.withUpdate && item.noiseSeed && examples.length && this.params && item.model === this.model.manifest.version) {
      const normal = gaussian(seededUniform(item.noiseSeed));
      const { vector } = clippedNoisedGradient(this.model.weights, examples, this.params.update.clipNorm, this.params.update.localNoiseStd, normal);
      update = { g: vector.map((x) => Number(x.toPrecision(6))), n: examples.length };
    }
    const events = item.events.map(({ key: _k, z: _z, ...e }) => e);
    const body: WireBatch = { format: SIGNALS_FORMAT, id: item.id, model: item.model, ...(item.shadow && events.some((e) => e.q !== undefined) ? { shadow: item.shadow } : {}), events, ...(update ? { update } : {}) };
    return { ...item, state: 'sealed', events: [], body };
  }

  private enqueue(item: OutboxItem): void {
    this.sealed.set(item.id, item);
    void this.save(item);
    this.schedule(0);
  }

  private save(item: OutboxItem): Promise<void> {
    return this.track(this.env.outbox.put(item)).catch((err) => this.env.onError(`signals: could not persist a batch (${(err as Error).message})`, err));
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.persist = this.persist.then(() => p, () => p);
    return p;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => { void this.flush(); }, delayMs);
    (this.timer as { unref?: () => void }).unref?.();
  }

  /** Seals the open batch and sends what is due. `keepalive` for page exit. */
  flush(options: { keepalive?: boolean } = {}): Promise<void> {
    if (this.open && this.open.events.length) {
      const item = this.seal(this.open);
      this.open = null;
      this.sealed.set(item.id, item);
      void this.save(item);
    }
    if (options.keepalive) return this.sendAll(true);
    this.sending ??= this.sendAll(false).finally(() => { this.sending = null; });
    return this.sending;
  }

  private async sendAll(keepalive: boolean): Promise<void> {
    if (!this.params || this.stopped) return;
    if (!keepalive && typeof navigator !== 'undefined' && navigator.onLine === false) {
      // Offline: wait for the browser to say we are back.
      globalThis.addEventListener?.('online', () => this.schedule(0), { once: true });
      return;
    }
    let budget = MAX_BODY_BYTES;
    for (const item of [...this.sealed.values()]) {
      if (!keepalive && item.nextAt > this.env.now()) continue;
      const body = JSON.stringify(item.body);
      if (keepalive) {
        if (this.inFlight.has(item.id)) continue;
        // All keepalive requests of a page share 64 KiB: send what fits, the rest waits in the outbox.
        if (body.length > budget) continue;
        budget -= body.length;
      }
      await this.send(item, body, keepalive);
      if (!keepalive && this.attempts >= MAX_ATTEMPTS_PER_PAGE) break;
    }
    const next = [...this.sealed.values()].reduce((m, i) => Math.min(m, i.nextAt), Infinity);
    if (Number.isFinite(next) && this.attempts < MAX_ATTEMPTS_PER_PAGE) this.schedule(Math.max(0, next - this.env.now()));
  }

  private async send(item: OutboxItem, body: string, keepalive: boolean): Promise<void> {
    let retryAfter: number | null = null;
    try {
      const request = this.env.fetch(this.url('signals'), {
        method: 'POST', body, keepalive, credentials: 'omit', mode: 'cors', referrerPolicy: 'no-referrer', cache: 'no-store',
        headers: { 'content-type': 'text/plain;charset=UTF-8' },
      });
      if (keepalive) {
        // The page is going away: the browser finishes the request; the outbox keeps the batch until a later page sees the ack.
        this.inFlight.add(item.id);
        request.then((res) => (res.ok ? this.acknowledged(item) : undefined), () => undefined).finally(() => this.inFlight.delete(item.id));
        return;
      }
      const res = await request;
      retryAfter = Number(res.headers.get('retry-after')) || null;
      if (res.ok) return await this.acknowledged(item);
      if (res.status === 400 || res.status === 413) {
        const reason = await res.text().catch(() => '');
        return await this.dropped(item, `HTTP ${res.status} ${reason.slice(0, 200)}`);
      }
    } catch {
      // network error: retried below
    }
    this.attempts += 1;
    const attempts = item.attempts + 1;
    const delay = retryAfter !== null ? retryAfter * 1000 : Math.min(MAX_BACKOFF_MS, BASE_BACKOFF_MS * 2 ** (attempts - 1)) * (0.5 + this.env.random() / 2);
    const next = { ...item, attempts, nextAt: this.env.now() + delay };
    this.sealed.set(item.id, next);
    await this.save(next);
  }

  private async acknowledged(item: OutboxItem): Promise<void> {
    if (!this.sealed.delete(item.id)) return;
    const b = item.body!;
    this.ledger = { ...this.ledger, sent: { batches: this.ledger.sent.batches + 1, events: this.ledger.sent.events + b.events.length, updates: this.ledger.sent.updates + (b.update ? 1 : 0), lastAt: this.env.now() } };
    await this.track(Promise.all([this.env.outbox.remove(item.id), this.env.outbox.saveLedger(this.ledger)])).catch(() => undefined);
  }

  private async dropped(item: OutboxItem, reason: string): Promise<void> {
    this.sealed.delete(item.id);
    this.ledger = { ...this.ledger, dropped: { batches: this.ledger.dropped.batches + 1, lastReason: reason } };
    this.env.onError(`signals: the server refused batch ${item.id} (${reason}); dropped`);
    await this.track(Promise.all([this.env.outbox.remove(item.id), this.env.outbox.saveLedger(this.ledger)])).catch(() => undefined);
  }

  async report(): Promise<PrivacyReport> {
    await this.readyOrTimeout();
    const acc = this.accountant?.report(this.ledger);
    const pending = [...this.sealed.values(), ...(this.open ? [this.open] : [])];
    return {
      consent: 'signals',
      endpoint: this.env.endpoint,
      fields: ['format', 'id (random per batch)', 'model', 'shadow', 'events[].a activity', 'events[].s slot', 'events[].p propensity', 'events[].r reward 0..1', 'events[].t 6-hour bucket', 'events[].q shadow propensity', 'update.g clipped noised gradient', 'update.n examples'],
      parameters: this.params,
      budget: acc?.budget ?? null,
      spent: acc?.spent ?? null,
      remaining: acc?.remaining ?? null,
      sent: this.ledger.sent,
      dropped: this.ledger.dropped,
      pending: { batches: pending.length, events: pending.reduce((s, i) => s + (i.body?.events.length ?? i.events.length), 0) },
      storage: this.env.outbox.kind,
      updates: !this.params ? 'privacy parameters not loaded' : this.accountant!.refusal(this.ledger) ?? 'next batch carries an update',
    };
  }

  /** Waits for pending writes (tests, page exit). */
  async settle(): Promise<void> {
    await this.ready;
    await this.persist.catch(() => undefined);
    await this.sending;
  }

  /** Consent withdrawn or profile forgotten: nothing more is sent, the queue is emptied (the ledger stays) and the stage closes. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.open = null;
    this.sealed.clear();
    await this.env.outbox.clear().catch(() => undefined);
    this.close();
  }

  close(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.env.outbox.close();
  }
}

function randomHex(bytes: number, random: () => number): string {
  const b = new Uint8Array(bytes);
  if (globalThis.crypto?.getRandomValues) globalThis.crypto.getRandomValues(b);
  else for (let i = 0; i < bytes; i++) b[i] = Math.floor(random() * 256);
  return toHex(b);
}
