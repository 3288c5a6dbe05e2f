import { createContext, createElement, useContext, useEffect, useState, type ReactNode } from 'react';
import type { Vitrine, VitrineOptions } from '@vitrine/sdk';
import {
  acquireClient,
  createViewTracker,
  track,
  DEFAULT_CONSENT,
  type ClientHandle,
  type ClientState,
  type CreateVitrine,
  type ViewTracker,
} from '@vitrine/storefront';

/**
 * What the provider hands its tree. Made during render without side effects (StrictMode may make
 * two and keep one); the client arrives through connect() from the provider's effect, so slots
 * mounted before it can already start their budget and wait on `ready`.
 */
export class VitrineHost {
  handle: ClientHandle | null = null;
  readonly initial: ClientState;
  readonly ready: Promise<Vitrine | null>;
  readonly connected: Promise<ClientHandle>;
  private resolveHandle!: (handle: ClientHandle) => void;
  private tracker: ViewTracker | null = null;
  private disposeTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: VitrineOptions) {
    this.initial = { client: null, status: null, consent: options.consent ?? DEFAULT_CONSENT, error: null };
    this.connected = new Promise((resolve) => (this.resolveHandle = resolve));
    this.ready = this.connected.then((handle) => handle.ready);
  }

  connect(handle: ClientHandle): void {
    if (this.disposeTimer !== undefined) clearTimeout(this.disposeTimer);
    this.disposeTimer = undefined;
    this.handle = handle;
    this.resolveHandle(handle);
  }

  /** Drops the view tracker one macrotask later unless the provider mounts again (StrictMode). */
  disconnect(): void {
    this.disposeTimer = setTimeout(() => {
      this.tracker?.dispose();
      this.tracker = null;
    }, 0);
  }

  refresh = (): void => this.handle?.refresh();

  /** The client's state: the shop's defaults until the client exists (and always on the server). */
  state = (): ClientState => this.handle?.state() ?? this.initial;

  /** Subscribes to the client's state, from before the client exists (then notified once it connects). */
  subscribe = (listener: () => void): (() => void) => {
    let active = true;
    let unsubscribe = this.handle?.subscribe(listener);
    if (!unsubscribe) {
      void this.connected.then((handle) => {
        if (!active) return;
        unsubscribe = handle.subscribe(listener);
        listener();
      });
    }
    return () => {
      active = false;
      unsubscribe?.();
    };
  };

  /** One IntersectionObserver per provider, made on the first card that needs it (browser only). */
  views(): ViewTracker {
    this.tracker ??= createViewTracker((decisionId, activityId) => void track(this, decisionId, activityId, 'view'));
    return this.tracker;
  }
}

export const VitrineContext = createContext<VitrineHost | null>(null);

export interface VitrineProviderProps {
  /** Read once, when the provider mounts: one client per provider for the page's life. */
  options: VitrineOptions;
  /** A client to use instead of creating one (tests); the provider closes it when it unmounts. */
  client?: Vitrine;
  /** How the client is created (default `createVitrine` from @vitrine/sdk); tests count calls with it. */
  create?: CreateVitrine;
  children?: ReactNode;
}

/**
 * Creates the page's Vitrine client in the browser (in an effect: never during render, never on the
 * server) and gives it to the hooks below. StrictMode's unmount/remount keeps one client.
 */
export function VitrineProvider({ options, client, create, children }: VitrineProviderProps): ReactNode {
  const [host] = useState(() => new VitrineHost(options));
  useEffect(() => {
    const handle = acquireClient(options, client ? () => Promise.resolve(client) : create);
    host.connect(handle);
    return () => {
      handle.release();
      host.disconnect();
    };
    // Options are read once per mount on purpose: a new options object each render must not make a new client.
  }, [host]);
  return createElement(VitrineContext.Provider, { value: host }, children);
}

export function useHost(): VitrineHost {
  const host = useContext(VitrineContext);
  if (!host) throw new Error('Vitrine hooks need a <VitrineProvider> above them');
  return host;
}
