import { test as base, expect, type Page } from '@playwright/test';
import type { Vitrine, VitrineOptions } from '@vitrine/sdk';
import type { Logger } from 'vite';

export const MODEL = '/models/coupons/manifest.json';

export const CATALOG = ['Bar', 'Carry out & Take away', 'Coffee House', 'Restaurant(20-50)', 'Restaurant(<20)'].flatMap((type) =>
  ['2h', '1d'].map((e) => ({
    id: `${type
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '')}-${e}`,
    type,
    features: { expiration: e },
  })),
);

/** Every test fails if the page raised an uncaught error or logged a console error. */
export const test = base.extend<{ pageErrors: string[] }>({
  pageErrors: [
    async ({ page }, use) => {
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
      page.on('console', (m) => {
        // Chromium logs 404s for /favicon.ico on its own; that is not the SDK's doing.
        if (m.type() === 'error' && !/favicon|Failed to load resource/.test(m.text())) errors.push(`console.error: ${m.text()}`);
      });
      await use(errors);
      expect(errors).toEqual([]);
    },
    { auto: true },
  ],
});
export { expect };

/** What the test pages expose to `page.evaluate`: the script tag's global and the tests' own handle. */
export type TestWindow = Window & {
  Vitrine: { init(options: Partial<VitrineOptions>): Promise<Vitrine> };
  __v: Vitrine;
};

/** Loads the test page and initialises the script-tag build with `options`. Returns status. */
export async function init(page: Page, options: Record<string, unknown>, path = '/e2e/sdk.html') {
  await page.goto(path);
  return page.evaluate(
    async (opts) => {
      while (!(window as unknown as TestWindow).Vitrine) await new Promise((r) => setTimeout(r, 5));
      const v = await (window as unknown as TestWindow).Vitrine.init(opts);
      (window as unknown as TestWindow).__v = v; // test handle only; tests that count globals don't call init()
      return v.status;
    },
    { model: MODEL, ...options },
  );
}

/** A Vite logger that keeps warnings and errors (and prints nothing): specs that build apps assert on them. */
export function capturingLogger(into: string[]): Logger {
  const keep = (msg: string) => void into.push(msg);
  return {
    info: () => undefined,
    warn: keep,
    warnOnce: keep,
    error: keep,
    clearScreen: () => undefined,
    hasErrorLogged: () => false,
    hasWarned: false,
  };
}
