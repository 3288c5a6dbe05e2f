import {
  createVitrine,
  type Consent,
  type Outcome,
  type Vitrine,
  type VitrineError,
  type VitrineOptions,
  type VitrineStatus,
} from '@vitrine/sdk';

/** How a client is made; the bindings let tests inject their own. */
export type CreateVitrine = (options: VitrineOptions) => Promise<Vitrine>;

/** What the bindings render from: a new object only when something in it changed. */
export interface ClientState {
  readonly client: Vitrine | null;
  readonly status: VitrineStatus | null;
  /** The shopper's consent: the client's once it exists, the shop's default before. */
  readonly consent: Consent;
  /** Why no client could be created (invalid options); the slots then keep the shop's order. */
  readonly error: VitrineError | null;
}

export interface ClientHandle {
  /** The client once created (null on the server, before it resolves, or when creation failed). */
  readonly client: Vitrine | null;
  /** Resolves with the client once it has loaded its model (or failed to), null when none could be created. */
  readonly ready: Promise<Vitrine | null>;
  status(): VitrineStatus | null;
  state(): ClientState;
  /** Called when the status or the consent changed. Returns the unsubscribe function. */
  subscribe(listener: () => void): () => void;
  /** Changes the consent at once (through the client once it exists); never rejects. */
  setConsent(consent: Consent): Promise<void>;
  /** Re-reads the client's status and tells subscribers if it changed (after calls that may change it). */
  refresh(): void;
  /** Gives this reference back; the client is closed when the last one is released and none is taken in the same tick. */
  release(): void;
}

/** The SDK's default consent level, shown before the client exists. */
export const DEFAULT_CONSENT: Consent = 'profile';

interface SharedClient {
  refs: number;
  closeTimer: ReturnType<typeof setTimeout> | undefined;
  core: ClientCore;
}

/** One client per options object (a provider or an app's plugin) for the whole page. */
const clients = new Map<VitrineOptions, SharedClient>();

export const isBrowser = (): boolean => typeof window !== 'undefined' && typeof document !== 'undefined';

class ClientCore {
  client: Vitrine | null = null;
  readonly ready: Promise<Vitrine | null>;
  private snapshot: ClientState;
  private readonly listeners = new Set<() => void>();
  private closed = false;

  constructor(
    private readonly options: VitrineOptions,
    create: CreateVitrine | null,
  ) {
    this.snapshot = { client: null, status: null, consent: options.consent ?? DEFAULT_CONSENT, error: null };
    if (!create) {
      this.ready = Promise.resolve(null);
      return;
    }
    // The SDK reports progress and degradations through the options; both may change the status.
    const watched: VitrineOptions = {
      ...options,
      onProgress: (p) => {
        options.onProgress?.(p);
        this.refresh();
      },
      onError: (e) => {
        options.onError?.(e);
        this.refresh();
      },
    };
    this.ready = create(watched).then(
      (client) => {
        if (this.closed) {
          client.close();
          return null;
        }
        this.client = client;
        this.refresh();
        return client;
      },
      (error: VitrineError) => {
        this.update({ ...this.snapshot, error });
        options.onError?.(error);
        return null;
      },
    );
  }

  state(): ClientState {
    return this.snapshot;
  }

  refresh(): void {
    const client = this.client;
    const s = this.snapshot;
    if (!client) return;
    const status = client.status;
    const consent = status.consent;
    if (client !== s.client || status !== s.status || consent !== s.consent) this.update({ ...s, client, status, consent });
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async setConsent(consent: Consent): Promise<void> {
    const client = this.client ?? (await this.ready);
    if (!client) {
      this.update({ ...this.snapshot, consent });
      return;
    }
    try {
      await client.setConsent(consent);
    } catch {
      // The client reports its own errors through options.onError; the state shows what holds now.
    }
    this.refresh();
  }

  close(): void {
    this.closed = true;
    this.listeners.clear();
    this.client?.close();
    this.client = null;
  }

  private update(next: ClientState): void {
    this.snapshot = next;
    for (const listener of [...this.listeners]) listener();
  }
}

/**
 * Takes a reference to the page's client for `options`, creating it on first use. In the browser
 * only: on the server (no window/document) the handle has no client and `ready` resolves null.
 * Releasing the last reference closes the client one macrotask later, so a release followed by an
 * acquire in the same tick (React StrictMode's unmount/remount, a keyed re-mount) keeps one client.
 */
export function acquireClient(options: VitrineOptions, create: CreateVitrine = createVitrine): ClientHandle {
  if (!isBrowser()) return lease(new ClientCore(options, null), () => undefined);
  let shared = clients.get(options);
  if (!shared) {
    shared = { refs: 0, closeTimer: undefined, core: new ClientCore(options, create) };
    clients.set(options, shared);
  }
  const entry = shared;
  entry.refs++;
  if (entry.closeTimer !== undefined) {
    clearTimeout(entry.closeTimer);
    entry.closeTimer = undefined;
  }
  return lease(entry.core, () => {
    if (--entry.refs > 0) return;
    entry.closeTimer = setTimeout(() => {
      entry.closeTimer = undefined;
      if (entry.refs > 0) return;
      clients.delete(options);
      entry.core.close();
    }, 0);
  });
}

/** A reference to a shared client: its own release() counts once however often it is called. */
function lease(core: ClientCore, giveBack: () => void): ClientHandle {
  let released = false;
  return {
    get client() {
      return core.client;
    },
    ready: core.ready,
    status: () => core.client?.status ?? null,
    state: () => core.state(),
    subscribe: (listener) => core.subscribe(listener),
    setConsent: (consent) => core.setConsent(consent),
    refresh: () => core.refresh(),
    release: () => {
      if (released) return;
      released = true;
      giveBack();
    },
  };
}

/**
 * Records an outcome for a rendered card. Never rejects and never throws to the page: a failure
 * goes to `onError` (the SDK has already reported it through the client's own `onError`).
 */
export async function track(
  handle: Pick<ClientHandle, 'ready' | 'refresh'>,
  decisionId: string,
  activityId: string,
  outcome: Outcome,
  onError?: (error: unknown) => void,
): Promise<void> {
  try {
    const client = await handle.ready;
    if (!client) return;
    await client.track(decisionId, activityId, outcome);
    handle.refresh();
  } catch (error) {
    onError?.(error);
  }
}
