/**
 * Shared steps for the demo shop's specs (demo*.spec.ts, loop.spec.ts): the shop the e2e config
 * starts on :5174, proxying /v1 to the e2e Vitrine server (QA privacy, TEST-ONLY signing key).
 */
import type { Locator, Page } from '@playwright/test';
import type { ProfileExport } from '@vitrine/sdk';
import { expect } from './fixtures';

export const DEMO = 'http://127.0.0.1:5174';

/** The shop's own settings (localStorage keys, packages/demo-shop/src/state.ts). */
export const KEYS = { consent: 'vitrine-demo-consent', qa: 'vitrine-demo-qa', budget: 'vitrine-demo-budget' } as const;

export interface DemoSetup {
  /** The consent choice already made (no banner); undefined: first visit, the banner shows. */
  consent?: 'none' | 'profile' | 'signals';
  /** Open the QA panel (default true). */
  qa?: boolean;
  /**
   * Ranking budget, ms (default 60 000, the QA panel's "Wait for the model"): the first page of a
   * fresh browser loads the model for seconds, far beyond the package's 150 ms, and these specs need
   * ranked slots to check decisions. 0 keeps the package default.
   */
  budgetMs?: number;
}

/** Presets the shop's settings before its scripts run (only where unset, so reloads keep what the page changed). */
export async function setUpDemo(page: Page, { consent, qa = true, budgetMs = 60_000 }: DemoSetup = {}): Promise<void> {
  const init: Record<string, string> = {};
  if (consent) init[KEYS.consent] = consent;
  if (qa) init[KEYS.qa] = 'open';
  if (budgetMs) init[KEYS.budget] = String(budgetMs);
  await page.addInitScript((values) => {
    if (sessionStorage.getItem('e2e-preset')) return;
    sessionStorage.setItem('e2e-preset', '1');
    for (const [k, v] of Object.entries(values)) localStorage.setItem(k, v);
  }, init);
}

/** Opens `path` and waits until the model is loaded (the QA panel shows its version). */
export async function openDemo(page: Page, path = '/', setup: DemoSetup = {}): Promise<void> {
  await setUpDemo(page, setup);
  await page.goto(`${DEMO}${path}`);
  if (setup.qa !== false) await expect(page.locator('[data-field="model version"]')).toHaveText(/^coupons-/, { timeout: 60_000 });
}

export const slot = (page: Page, name: string): Locator => page.locator(`[data-vitrine-slot="${name}"]`);
export const cards = (page: Page, name: string): Locator => slot(page, name).locator('[data-vitrine-activity]');
export const qaSlot = (page: Page, name: string): Locator => page.getByTestId(`qa-slot-${name}`);

/** Waits until the slot's ranked order is on screen (QA panel), then returns its decision's item ids. */
export async function rankedIds(page: Page, name: string): Promise<string[]> {
  await expect(qaSlot(page, name).locator('[data-field="phase"]')).toHaveText('ranked', { timeout: 30_000 });
  return qaSlot(page, name)
    .locator('tbody tr')
    .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-activity')!));
}

/** The context the slot ranked with, as the QA panel shows it. */
export async function slotContext(page: Page, name: string): Promise<Record<string, string | number>> {
  return JSON.parse((await qaSlot(page, name).locator('[data-field="context"]').textContent())!);
}

/** The stored profile as the QA panel shows it (it re-reads exportProfile() every second, once the client is ready). */
export async function qaProfile(page: Page): Promise<ProfileExport> {
  const shown = page.getByTestId('profile');
  await expect(shown).toContainText('"events"', { timeout: 60_000 });
  return JSON.parse((await shown.textContent())!);
}

/** Navigates inside the shop (History API, no page load) through the header's links. */
export async function nav(page: Page, label: 'Home' | 'Cart' | 'Privacy'): Promise<void> {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: label, exact: false }).click();
}

/** Names of the IndexedDB databases of the page's origin. */
export const databases = (page: Page): Promise<string[]> =>
  page.evaluate(async () => (await indexedDB.databases()).map((d) => d.name ?? ''));
