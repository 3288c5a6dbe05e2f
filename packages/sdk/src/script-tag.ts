/**
 * Script-tag entry (an IIFE, kept tiny): defines `window.Vitrine`, loads the ESM build that sits
 * beside this file with `import()` (so both builds share one tfjs engine and the lazy backend
 * chunks), auto-initialises from data-* attributes and drains `window.vitrineQueue`.
 */
import type { Vitrine, VitrineOptions } from './index';
import { version } from './version';

type QueueItem = (v: Vitrine) => unknown;
interface Global {
  Vitrine?: unknown;
  vitrineQueue?: QueueItem[] | { push(fn: QueueItem): number };
}

(() => {
  const w = window as unknown as Global;
  if (w.Vitrine) return; // loaded twice: keep the first
  const script = document.currentScript as HTMLScriptElement | null;
  const base = new URL('.', script?.src || document.baseURI).href;
  let instance: Promise<Vitrine> | undefined;

  const run = (fn: QueueItem, v: Vitrine) => {
    try {
      Promise.resolve(fn(v)).catch((e) => console.warn('[vitrine] queued callback failed', e));
    } catch (e) {
      console.warn('[vitrine] queued callback failed', e);
    }
  };

  const init = (options: VitrineOptions): Promise<Vitrine> => {
    // Non-literal specifier: bundlers leave it alone and the browser resolves it next to this script.
    const entry = `${base}index.js`;
    instance = (import(entry) as Promise<typeof import('./index')>).then((m) => m.createVitrine({ wasmPaths: base, ...options }));
    instance.then(
      (v) => {
        const pending = Array.isArray(w.vitrineQueue) ? w.vitrineQueue : [];
        w.vitrineQueue = { push: (fn: QueueItem) => (run(fn, v), 0) };
        pending.forEach((fn) => run(fn, v));
      },
      (e) => console.warn('[vitrine] init failed', e),
    );
    return instance;
  };

  w.Vitrine = Object.freeze({
    init,
    get ready() {
      return instance;
    },
    version,
  });
  const data = script?.dataset;
  if (data?.model) {
    init({
      model: data.model,
      endpoint: data.endpoint,
      backend: (data.backend as VitrineOptions['backend']) || 'auto',
      // data-consent: 'none', 'profile' (the default) or 'signals'; only an explicit "signals" turns signals on.
      consent: data.consent === 'signals' || data.consent === 'none' ? data.consent : 'profile',
      // data-model-key: the pinned model signing key (SPKI base64); only signed models are used then.
      ...(data.modelKey ? { modelKey: data.modelKey } : {}),
    }).catch(() => undefined);
  }
})();
