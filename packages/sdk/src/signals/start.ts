import type { LoadedModel } from '../model/loader';
import type { StorageOption } from '../types';
import { IdbOutbox, MemoryOutbox, memoryOnlyLedger, type SignalOutbox } from './outbox';
import { SignalsStage, type SignalsEnv } from './stage';

export interface StartSignalsOptions extends Omit<SignalsEnv, 'outbox' | 'fetch'> {
  /** 'memory': the queue stays in memory; otherwise IndexedDB, else memory with a warning. */
  storage?: StorageOption;
  /** An outbox to use instead of opening one (Node tools, tests). */
  outbox?: SignalOutbox;
  /** Asked once the queue is open: false (page closed, consent withdrawn) means start nothing. */
  stillWanted: () => boolean;
}

/**
 * The door to the signals chunk: resolves the endpoint, opens the signal queue and starts the
 * stage. vitrine.ts reaches it only through import(), so pages without consent never download
 * any of the signals code.
 */
export async function startSignalsStage(
  model: LoadedModel,
  { storage, outbox, endpoint, stillWanted, ...env }: StartSignalsOptions,
): Promise<{ stage: SignalsStage | null; warning?: string }> {
  const url = new URL(endpoint, globalThis.document?.baseURI ?? globalThis.location?.href).href;
  let warning: string | undefined;
  const given = outbox;
  // A queue the SDK keeps in memory has no ledger of earlier pages: it sends events, never updates.
  if (!outbox) {
    try {
      outbox =
        storage === 'memory'
          ? new MemoryOutbox(memoryOnlyLedger(env.now(), "storage: 'memory' keeps no privacy ledger across pages"))
          : await IdbOutbox.open({ now: env.now, onRepair: (reason) => env.onError(`signals: ${reason}`) });
    } catch (err) {
      outbox = new MemoryOutbox(memoryOnlyLedger(env.now(), 'the privacy ledger in IndexedDB could not be read'));
      warning = `signal queue kept in memory (${(err as Error).message}): unsent signals are lost if the page closes`;
    }
  }
  if (!stillWanted()) {
    // Nothing was sent or asked for yet (the stage's first request is in its constructor).
    if (outbox !== given) outbox.close();
    return { stage: null };
  }
  const stage = new SignalsStage(model, { ...env, endpoint: url, outbox, fetch: globalThis.fetch.bind(globalThis) });
  return { stage, ...(warning ? { warning } : {}) };
}
