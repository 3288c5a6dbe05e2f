import { MAX_BODY_BYTES } from '@vitrine/core/protocol';
import { backoffDelay } from '../backoff';
import type { OutboxItem } from './outbox';
import type { BatchQueue } from './queue';

const BASE_BACKOFF_MS = 2_000;
const MAX_BACKOFF_MS = 10 * 60_000;
/** Attempts per page life; what is left waits in the outbox for the next page load. */
export const MAX_ATTEMPTS_PER_PAGE = 8;

export interface SenderEnv {
  fetch: typeof fetch;
  /** Where batches are POSTed: `{endpoint}/signals`. */
  url: string;
  now: () => number;
  random: () => number;
  /** Asks for another pass in `delayMs` (the stage's timer). */
  wake: (delayMs: number) => void;
}

/** What the stage does when the server has answered for good. */
export interface SendOutcomes {
  acknowledged(item: OutboxItem): Promise<void>;
  /** HTTP 400/413: the batch can never be accepted. */
  dropped(item: OutboxItem, reason: string): Promise<void>;
}

/** Delay before the next attempt: the server's Retry-After (seconds) when it sent one, else jittered backoff. */
export function retryDelayMs(attempt: number, retryAfterSeconds: number | null, random: () => number): number {
  return retryAfterSeconds !== null ? retryAfterSeconds * 1000 : backoffDelay(attempt, random, BASE_BACKOFF_MS, MAX_BACKOFF_MS);
}

/**
 * Sends sealed batches without cookies or referrer, as text/plain (no CORS preflight).
 * Backs off per batch on network errors, 5xx and 429, drops a batch only on 400/413, pauses
 * while the browser is offline and stops after a few attempts per page. At page exit it sends
 * with `keepalive`, within the 64 KiB that all keepalive requests of a page share.
 */
export class SignalSender {
  /** Failed attempts on this page, all batches together. */
  private attempts = 0;
  /** Batches sent with keepalive and not answered yet (hidden + pagehide must not send them twice). */
  private readonly inFlight = new Set<string>();
  /**
   * Body bytes of keepalive requests not finished yet. The browser's 64 KiB limit is on exactly
   * these (all of a page's in-flight keepalive requests together), so hidden then pagehide share
   * one budget instead of each getting a fresh one.
   */
  private keepaliveBytes = 0;

  constructor(
    private readonly env: SenderEnv,
    private readonly queue: BatchQueue,
    private readonly outcomes: SendOutcomes,
  ) {}

  /** Sends what is due (everything not in flight, with `keepalive`), then asks to be woken for the next one. */
  async sendDue(keepalive: boolean): Promise<void> {
    if (!keepalive && typeof navigator !== 'undefined' && navigator.onLine === false) {
      // Offline: wait for the browser to say we are back.
      globalThis.addEventListener?.('online', () => this.env.wake(0), { once: true });
      return;
    }
    for (const item of this.queue.items) {
      if (!keepalive && item.nextAt > this.env.now()) continue;
      const body = JSON.stringify(item.body);
      if (keepalive) {
        if (this.inFlight.has(item.id)) continue;
        // All keepalive requests of a page share 64 KiB: send what fits, the rest waits in the outbox.
        if (this.keepaliveBytes + byteLength(body) > MAX_BODY_BYTES) continue;
      }
      await this.send(item, body, keepalive);
      if (!keepalive && this.attempts >= MAX_ATTEMPTS_PER_PAGE) break;
    }
    const next = this.queue.items.reduce((m, i) => Math.min(m, i.nextAt), Infinity);
    if (Number.isFinite(next) && this.attempts < MAX_ATTEMPTS_PER_PAGE) this.env.wake(Math.max(0, next - this.env.now()));
  }

  private async send(item: OutboxItem, body: string, keepalive: boolean): Promise<void> {
    let retryAfter: number | null = null;
    try {
      const request = this.env.fetch(this.env.url, {
        method: 'POST',
        body,
        keepalive,
        credentials: 'omit',
        mode: 'cors',
        referrerPolicy: 'no-referrer',
        cache: 'no-store',
        headers: { 'content-type': 'text/plain;charset=UTF-8' },
      });
      if (keepalive) {
        // The page is going away: the browser finishes the request; the outbox keeps the batch until a later page sees the ack.
        const bytes = byteLength(body);
        this.inFlight.add(item.id);
        this.keepaliveBytes += bytes;
        request
          .then(
            (res) => (res.ok ? this.outcomes.acknowledged(item) : undefined),
            () => undefined,
          )
          .finally(() => {
            this.inFlight.delete(item.id);
            this.keepaliveBytes -= bytes;
          });
        return;
      }
      const res = await request;
      retryAfter = Number(res.headers.get('retry-after')) || null;
      if (res.ok) return await this.outcomes.acknowledged(item);
      if (res.status === 400 || res.status === 413) {
        const reason = await res.text().catch(() => '');
        return await this.outcomes.dropped(item, `HTTP ${res.status} ${reason.slice(0, 200)}`);
      }
    } catch {
      // network error: retried below
    }
    this.attempts += 1;
    const delayMs = retryDelayMs(item.attempts, retryAfter, this.env.random);
    await this.queue.add({ ...item, attempts: item.attempts + 1, nextAt: this.env.now() + delayMs });
  }
}

/** UTF-8 size of a body: the browser's keepalive limit counts bytes, not UTF-16 characters. */
function byteLength(body: string): number {
  return new TextEncoder().encode(body).length;
}
