import type { Consent, Vitrine, VitrineError, VitrineOptions, VitrineStatus } from '@vitrine/sdk';
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
import { computed, inject, onMounted, shallowRef, type ComputedRef, type InjectionKey, type Plugin, type ShallowRef } from 'vue';

export interface VitrinePluginOptions {
  /**
   * The SDK's options (`model` at least). The app's client is made from this object: keep it the
   * same object for the app's life (one client per options object on the page).
   */
  options: VitrineOptions;
  /** How the client is made (default: the SDK's `createVitrine`); tests count calls with it. */
  create?: CreateVitrine;
  /** A client to use instead of creating one (tests); closed when the app unmounts. */
  client?: Vitrine;
}

/** What `useVitrine()` returns: the app's client and its state, as read-only refs. */
export interface UseVitrine {
  /** The client once it has loaded its model (or failed to); null on the server and before. */
  client: ComputedRef<Vitrine | null>;
  /** The client's status (backend, model version, consent, ...); null until the client exists. */
  status: ComputedRef<VitrineStatus | null>;
  /** The shopper's consent: the client's once it exists, the shop's default (`options.consent`) before. */
  consent: ComputedRef<Consent>;
  /** Why no client could be made (invalid options); slots then keep the shop's order. */
  error: ComputedRef<VitrineError | null>;
  /** Changes the consent at once (`'none'` erases what the device stored). Never rejects. */
  setConsent(consent: Consent): Promise<void>;
}

/** The app-wide part the composables share. */
export interface VitrineAppContext {
  state: ShallowRef<ClientState>;
  /** The app's handle on its client, created on the first call (from a mounted component: browser only). */
  connect(): ClientHandle;
  /** The app's one view tracker (one IntersectionObserver), made on first use (browser only). */
  views(): ViewTracker;
}

export const VITRINE_CONTEXT: InjectionKey<VitrineAppContext> = Symbol('vitrine');

/**
 * The Vue plugin: `app.use(vitrinePlugin({ options: { model: '/models/coupons/manifest.json' } }))`.
 * Installing it creates nothing: the app's one client is created in the browser when the first
 * component using `useVitrine()` or `useRanking()` mounts (never during SSR, never at import), and
 * closed when the app unmounts.
 */
export function vitrinePlugin({ options, create, client }: VitrinePluginOptions): Plugin {
  const make: CreateVitrine | undefined = client ? () => Promise.resolve(client) : create;
  return {
    install(app) {
      const state = shallowRef<ClientState>({ client: null, status: null, consent: options.consent ?? DEFAULT_CONSENT, error: null });
      let handle: ClientHandle | null = null;
      let unsubscribe: (() => void) | null = null;
      let tracker: ViewTracker | null = null;
      const connect = (): ClientHandle => {
        if (handle) return handle;
        const acquired = acquireClient(options, make);
        handle = acquired;
        unsubscribe = acquired.subscribe(() => (state.value = acquired.state()));
        state.value = acquired.state();
        return acquired;
      };
      const views = (): ViewTracker =>
        (tracker ??= createViewTracker((decisionId, activityId) => void track(connect(), decisionId, activityId, 'view')));
      app.onUnmount(() => {
        tracker?.dispose();
        unsubscribe?.();
        handle?.release();
        tracker = unsubscribe = handle = null;
      });
      app.provide(VITRINE_CONTEXT, { state, connect, views });
    },
  };
}

export function injectVitrine(caller: string): VitrineAppContext {
  const context = inject(VITRINE_CONTEXT, null);
  if (!context) throw new Error(`${caller}() needs the Vitrine plugin: app.use(vitrinePlugin({ options }))`);
  return context;
}

/**
 * The app's client, status and consent as refs that follow status and consent changes. The client
 * is created when the calling component mounts (browser only); on the server every ref keeps its
 * initial value (no client, the shop's default consent).
 */
export function useVitrine(): UseVitrine {
  const context = injectVitrine('useVitrine');
  onMounted(() => void context.connect());
  return {
    client: computed(() => context.state.value.client),
    status: computed(() => context.state.value.status),
    consent: computed(() => context.state.value.consent),
    error: computed(() => context.state.value.error),
    setConsent: (consent) => context.connect().setConsent(consent),
  };
}
