/** Owns the small browser and Node facilities the client needs: ids, randomness, timers, deleting a database. */

export function deleteDatabase(name: string): Promise<void> {
  return new Promise((resolve) => {
    try {
      const req = indexedDB.deleteDatabase(name);
      req.onsuccess = req.onerror = req.onblocked = () => resolve();
    } catch {
      resolve();
    }
  });
}

// One getRandomValues call per 256 draws: an exploring rank needs one draw per placed slot.
const pool = new Uint32Array(256);
let drawn = pool.length;

/** Uniform in [0, 1) from the platform CSPRNG. */
export function defaultRandom(): number {
  if (drawn === pool.length) {
    globalThis.crypto.getRandomValues(pool);
    drawn = 0;
  }
  return pool[drawn++] / 2 ** 32;
}

export function newId(): string {
  return globalThis.crypto?.randomUUID?.() ?? `d-${Date.now().toString(36)}-${Math.floor(defaultRandom() * 2 ** 32).toString(36)}`;
}

/** A cancellable timer (model-load retries, the signal stage); unref'd so it never keeps a Node tool alive. */
export function setTimer(run: () => void, delayMs: number): () => void {
  const timer = setTimeout(run, delayMs);
  (timer as { unref?: () => void }).unref?.();
  return () => clearTimeout(timer);
}
