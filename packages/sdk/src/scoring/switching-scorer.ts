import type { FactoredBatch } from '@vitrine/core/features';
import type { BackendName } from '../types';
import type { Scorer } from './scorer';

/**
 * The scorer a client ranks with under `backend: 'auto'`: it scores with the backend that is
 * ready now (WASM at once) and can be moved to another one (WebGPU once it is warm) without the
 * client noticing, except through `backend`.
 *
 * A switch waits for a quiet moment: no `score()` in flight and a macrotask boundary after the
 * last one returned, so a caller that reads `backend` right after awaiting `score()` (as `rank`
 * does, to name the backend in its Decision) always reads the backend that really scored.
 * A caller that spreads one decision over several `score()` calls with yields in between holds
 * the scorer with `hold()` meanwhile.
 */
export class SwitchingScorer implements Scorer {
  private current: Scorer;
  private busy = 0;
  private closed = false;
  private idleWaiters: (() => void)[] = [];

  constructor(initial: Scorer) {
    this.current = initial;
  }

  get backend(): BackendName {
    return this.current.backend;
  }

  async score(batch: FactoredBatch): Promise<Float32Array> {
    const release = this.hold();
    try {
      return await this.current.score(batch);
    } finally {
      release();
    }
  }

  /** Benchmarks: the bare forward pass of the backend ranking now (see TfjsScorer). */
  prepareForwardPass(batch: FactoredBatch): () => Promise<Float32Array> {
    const current = this.current as Scorer & { prepareForwardPass?(batch: FactoredBatch): () => Promise<Float32Array> };
    if (!current.prepareForwardPass) throw new Error(`the ${current.backend} scorer has no bare forward pass`);
    return current.prepareForwardPass(batch);
  }

  /** Keeps the current backend until the returned function is called (once is enough; more are ignored). */
  hold(): () => void {
    this.busy++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--this.busy === 0) for (const wake of this.idleWaiters.splice(0)) wake();
    };
  }

  /**
   * Moves scoring to `next` at the next quiet moment and disposes the scorer it replaces.
   * Resolves true once `next` scores; false (and `next` disposed) when this scorer was disposed
   * or `signal` aborted first (forget() keeps the client but stops its background work).
   * `onSwitch` runs synchronously at the switch, before any later `score()` can start.
   */
  async switchTo(next: Scorer, onSwitch?: (from: BackendName) => void, signal?: AbortSignal): Promise<boolean> {
    for (;;) {
      if (this.closed || signal?.aborted) break;
      if (this.busy > 0) {
        await new Promise<void>((wake) => this.idleWaiters.push(wake));
        continue;
      }
      // A macrotask: every continuation of a score() that just returned has run by then.
      await new Promise<void>((r) => setTimeout(r, 0));
      if (this.closed || signal?.aborted || this.busy > 0) continue;
      const previous = this.current;
      this.current = next;
      onSwitch?.(previous.backend);
      previous.dispose();
      return true;
    }
    next.dispose();
    return false;
  }

  dispose(): void {
    if (this.closed) return;
    this.closed = true;
    this.current.dispose();
    for (const wake of this.idleWaiters.splice(0)) wake();
  }
}
