/**
 * Types for the script-tag build's globals (`vitrine.min.js`): `window.Vitrine` and the
 * `window.vitrineQueue` it drains. In a page's TypeScript:
 *
 *   /// <reference types="@vitrine/sdk/global" />
 *   (window.vitrineQueue ||= []).push(async (vitrine) => { … });
 *
 * `Vitrine` is undefined until the (async) script has run: use `vitrineQueue`, or
 * `window.Vitrine?.init(…)`.
 */
import type { Vitrine, VitrineOptions } from '@vitrine/sdk';

declare global {
  /** Runs once with the ready instance, whether pushed before or after the script loaded. */
  type VitrineQueueItem = (vitrine: Vitrine) => unknown;

  /** `window.Vitrine`, defined by `vitrine.min.js`. */
  interface VitrineGlobal {
    /** Makes an instance (what `createVitrine` does); `data-model` on the script tag calls it for you. */
    init(options: VitrineOptions): Promise<Vitrine>;
    /** The pending instance of the last `init` (or of the `data-*` auto-init); undefined before. */
    readonly ready: Promise<Vitrine> | undefined;
    /** The SDK version. */
    readonly version: string;
  }

  /** Defined once `vitrine.min.js` has run. */
  var Vitrine: VitrineGlobal | undefined;
  /** An array before the script runs; after it, an object whose `push` runs the callback. */
  var vitrineQueue: VitrineQueueItem[] | { push(fn: VitrineQueueItem): number } | undefined;
}
