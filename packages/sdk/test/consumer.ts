// Type-level smoke test of the published declarations (checked by `npm run typecheck`):
// a shop's TypeScript code written against `@vitrine/sdk` as installed from npm.
import { createVitrine, VitrineError, type Decision, type Vitrine, type VitrineStatus } from '@vitrine/sdk';

export async function shopCode(): Promise<Decision | undefined> {
  const vitrine: Vitrine = await createVitrine({
    model: '/models/coupons/manifest.json',
    backend: 'auto',
    user: { age: '26', has_children: 0 },
  });
  const status: VitrineStatus = vitrine.status;
  if (status.degraded) console.info(status.degraded, status.backend satisfies 'webgpu' | 'wasm' | 'webgl' | 'cpu' | 'rules');
  try {
    const decision = await vitrine.rank([{ id: 'c1', type: 'coupon', features: { discount: 10 }, endsAt: '2030-01-01' }], {
      context: { page: 'home' },
      slots: 1,
    });
    void vitrine.track(decision.id, decision.items[0].id, 'click');
    return decision;
  } catch (e) {
    if (e instanceof VitrineError) console.warn(e.code, e.field);
    return undefined;
  }
}
