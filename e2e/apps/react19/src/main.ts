import { StrictMode, createElement as h, version as reactVersion } from 'react';
import { version as reactDomVersion } from 'react-dom';
import { createRoot, hydrateRoot } from 'react-dom/client';
import { createVitrine } from '@vitrine/sdk';
import type { Vitrine, VitrineOptions } from '@vitrine/react';
import { Shop, shopConfig, type SlotReport } from './shop';

/** What the e2e spec reads: clients created, outcomes tracked, the slot's last report, React's versions. */
export interface ShopProbe {
  react: string;
  reactDom: string;
  hydrated: boolean;
  /** Runs of the app's mount effect: 2 under StrictMode in a development build (its double effects). */
  mountEffects: number;
  created: number;
  client: Vitrine | null;
  tracked: [string, string, string][];
  slot: SlotReport | null;
}

const probe: ShopProbe = {
  react: reactVersion,
  reactDom: reactDomVersion,
  hydrated: false,
  mountEffects: 0,
  created: 0,
  client: null,
  tracked: [],
  slot: null,
};
(window as unknown as { __shop: ShopProbe }).__shop = probe;

/** createVitrine, counted, with track() recorded on its way to the client. */
async function create(options: VitrineOptions): Promise<Vitrine> {
  probe.created++;
  const client = await createVitrine(options);
  const track = client.track.bind(client);
  client.track = (decisionId, activityId, outcome) => {
    probe.tracked.push([decisionId, activityId, outcome]);
    return track(decisionId, activityId, outcome);
  };
  probe.client = client;
  return client;
}

const app = h(
  StrictMode,
  null,
  h(Shop, {
    config: shopConfig(location.search),
    // `?plain`: the provider's own createVitrine, as most shops use it (nothing counted or recorded).
    create: new URLSearchParams(location.search).has('plain') ? undefined : create,
    onSlot: (report) => (probe.slot = report),
    onMount: () => probe.mountEffects++,
  }),
);
const root = document.getElementById('root')!;
if (root.firstElementChild) {
  probe.hydrated = true;
  hydrateRoot(root, app);
} else {
  createRoot(root).render(app);
}
