import { createElement as h, useEffect, useState } from 'react';
import { VitrineProvider, useRanking, type Activity, type CreateVitrine, type SlotPhase, type VitrineOptions } from '@vitrine/react';

/** The ten survey offers (the same ids as e2e/fixtures.ts CATALOG, which the spec checks). */
export const CATALOG: Activity[] = ['Bar', 'Carry out & Take away', 'Coffee House', 'Restaurant(20-50)', 'Restaurant(<20)'].flatMap(
  (type) =>
    ['2h', '1d'].map((expiration) => ({
      id: `${type
        .toLowerCase()
        .replace(/[^a-z0-9]+/g, '-')
        .replace(/^-|-$/g, '')}-${expiration}`,
      type,
      features: { expiration },
    })),
);

const CONTEXT = { destination: 'Home', passanger: 'Alone', weather: 'Sunny', temperature: '55', time: '6PM' };

/** What the URL asks of the shop (the spec's knobs); the server render reads the same URL. */
export interface ShopConfig {
  /** `?budget=`: the slot's budget, ms (default: the package's). */
  budgetMs?: number;
  /** `?tall`: every card and a spacer above the slot are one viewport high (viewability tests). */
  tall: boolean;
  /** `?backend=`: the SDK's backend option (default auto). */
  backend: VitrineOptions['backend'];
}

export function shopConfig(search: string): ShopConfig {
  const params = new URLSearchParams(search);
  const budget = params.get('budget');
  return {
    budgetMs: budget === null ? undefined : Number(budget),
    tall: params.has('tall'),
    backend: (params.get('backend') ?? 'auto') as VitrineOptions['backend'],
  };
}

/** What the slot reports to the page's probe (the spec reads it). */
export interface SlotReport {
  phase: SlotPhase;
  rankedAfterMs: number | null;
  backend: string | null;
  decisionId: string | null;
  personalized: boolean;
  mountedAt: number;
}

interface ShopProps {
  config: ShopConfig;
  create?: CreateVitrine;
  onSlot?: (report: SlotReport) => void;
  onMount?: () => void;
}

function Offers({ config, onSlot }: Pick<ShopProps, 'config' | 'onSlot'>) {
  const offers = useRanking(CATALOG, { slot: 'offers', context: CONTEXT, budgetMs: config.budgetMs });
  const [mountedAt, setMountedAt] = useState(0);
  useEffect(() => {
    setMountedAt(performance.now());
  }, []);
  const { phase, rankedAfterMs, decision, personalized } = offers;
  useEffect(() => {
    if (mountedAt) {
      onSlot?.({
        phase,
        rankedAfterMs: rankedAfterMs ?? null,
        backend: decision?.backend ?? null,
        decisionId: decision?.id ?? null,
        personalized,
        mountedAt,
      });
    }
  }, [onSlot, phase, rankedAfterMs, decision, personalized, mountedAt]);
  return h(
    'section',
    { ...offers.slotProps(), 'data-phase': phase },
    h('h2', null, 'Offers for you'),
    h(
      'ul',
      null,
      offers.items.map((offer) =>
        h(
          'li',
          { key: offer.id, ...offers.cardProps(offer) },
          h(
            'button',
            { type: 'button', onClick: () => void offers.trackClick(offer.id) },
            `${offer.type}, valid ${offer.features?.expiration}`,
          ),
        ),
      ),
    ),
  );
}

/** The test shop: one provider, a slot of the ten offers. Rendered on the server and hydrated in the browser. */
export function Shop({ config, create, onSlot, onMount }: ShopProps) {
  useEffect(() => {
    onMount?.();
  }, [onMount]);
  // One options object for the provider's life (the provider reads it once anyway).
  const [options] = useState<VitrineOptions>(() => ({ model: '/models/coupons/manifest.json', backend: config.backend }));
  return h(
    VitrineProvider,
    { options, create },
    h(
      'main',
      { className: config.tall ? 'tall' : undefined },
      config.tall ? h('div', { className: 'spacer' }) : null,
      h(Offers, { config, onSlot }),
    ),
  );
}
