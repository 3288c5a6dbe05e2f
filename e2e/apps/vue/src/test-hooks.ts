import type { Vitrine } from '@vitrine/sdk';

/** What this test app exposes to e2e/vue.spec.ts (browser only). */
export interface ShopTestHooks {
  /** performance.now() when the offers slot mounted. */
  mountedAt?: number;
  client?: Vitrine | null;
  /** performance.now() when the client first reported ready (model loaded). */
  readyAt?: number;
}

export function testHooks(): ShopTestHooks {
  const w = window as unknown as { __shopTest?: ShopTestHooks };
  return (w.__shopTest ??= {});
}
