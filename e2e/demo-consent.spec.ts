/**
 * Consent in the demo shop: the banner on a first visit, and what each level keeps and sends,
 * checked in the browser's own storage (indexedDB.databases()) and on the network.
 */
import type { Page, Request } from '@playwright/test';
import { test, expect } from './fixtures';
import { DEMO, KEYS, cards, databases, nav, openDemo, qaProfile, rankedIds, setUpDemo, slot } from './demo-helpers';

/** Clicks "Get offer" (or "In your cart") and "Not for me" on the strip's first two ranked cards. */
async function interact(page: Page): Promise<void> {
  const [a, b] = await rankedIds(page, 'offers-for-you');
  await slot(page, 'offers-for-you').locator(`[data-vitrine-activity="${a}"] [data-action="get"]`).click();
  await slot(page, 'offers-for-you').locator(`[data-vitrine-activity="${b}"] [data-action="dismiss"]`).click();
}

const signalPosts = (requests: Request[]) => requests.filter((r) => r.method() === 'POST' && new URL(r.url()).pathname === '/v1/signals');

test('the banner shows on a first visit only; until a choice the shop default (profile) applies', async ({ page }) => {
  await setUpDemo(page); // no consent preset: a first visit
  await page.goto(`${DEMO}/`);
  const banner = page.getByTestId('consent-banner');
  await expect(banner).toBeVisible();
  await expect(banner.getByRole('button')).toHaveText([
    'No personalization storage',
    'Personalize on this device',
    'Personalize and help improve offers',
  ]);
  await expect(page.locator('[data-field="consent"]')).toHaveText('profile', { timeout: 60_000 });
  await expect(page.locator('[data-field="profile storage"]')).toHaveText('indexeddb');

  await banner.getByRole('button', { name: 'Personalize on this device' }).click();
  await expect(banner).toHaveCount(0);
  expect(await page.evaluate((k) => localStorage.getItem(k), KEYS.consent)).toBe('profile');
  await page.reload();
  await expect(page.locator('[data-field="model version"]')).toHaveText(/^coupons-/, { timeout: 60_000 });
  await expect(page.getByTestId('consent-banner')).toHaveCount(0);
});

test('none: no IndexedDB database, an empty profile, nothing sent; ranking still works from the page context', async ({ page }) => {
  const requests: Request[] = [];
  page.on('request', (r) => requests.push(r));
  await setUpDemo(page);
  await page.goto(`${DEMO}/`);
  await page.getByTestId('consent-banner').getByRole('button', { name: 'No personalization storage' }).click();
  await expect(page.locator('[data-field="consent"]')).toHaveText('none', { timeout: 60_000 });
  await expect(page.locator('[data-field="profile storage"]')).toHaveText('none');

  await interact(page);
  await nav(page, 'Cart');
  await rankedIds(page, 'complete-your-order');
  await nav(page, 'Home');
  await rankedIds(page, 'offers-for-you');
  expect(await databases(page)).not.toContain('vitrine');
  const profile = await qaProfile(page);
  expect(profile.storage).toBe('none');
  expect(profile.events).toEqual([]);

  // A fresh page load under 'none' opens no database either.
  await page.reload();
  await expect(page.locator('[data-field="consent"]')).toHaveText('none', { timeout: 60_000 });
  await rankedIds(page, 'offers-for-you');
  await expect(cards(page, 'offers-for-you')).toHaveCount(4);
  expect(await databases(page)).not.toContain('vitrine');
  expect(signalPosts(requests)).toEqual([]);
});

test('profile: the profile is stored in IndexedDB and nothing is sent', async ({ page }) => {
  const requests: Request[] = [];
  page.on('request', (r) => requests.push(r));
  await openDemo(page, '/', { consent: 'profile' });
  await interact(page);
  await expect.poll(async () => (await qaProfile(page)).events.map((e) => e.outcome)).toEqual(expect.arrayContaining(['click', 'dismiss']));
  expect(await databases(page)).toContain('vitrine');
  await page.getByTestId('qa-flush').click();
  await nav(page, 'Privacy');
  await expect(page.getByTestId('sent')).toHaveText('Nothing is sent: you chose “Personalize on this device”.');
  await expect(page.getByTestId('stored-summary')).toContainText('IndexedDB');
  expect(signalPosts(requests)).toEqual([]);
});

test('signals: anonymized batches are sent and the privacy page shows them', async ({ page }) => {
  const requests: Request[] = [];
  page.on('request', (r) => requests.push(r));
  await setUpDemo(page);
  await page.goto(`${DEMO}/`);
  await page.getByTestId('consent-banner').getByRole('button', { name: 'Personalize and help improve offers' }).click();
  await expect(page.locator('[data-field="consent"]')).toHaveText('signals', { timeout: 60_000 });
  // Decisions made before the consent are never sent: the next page's slots rank under it.
  await nav(page, 'Cart');
  await nav(page, 'Home');
  await interact(page);
  await page.getByTestId('qa-flush').click();
  await expect.poll(() => signalPosts(requests).length, { timeout: 30_000 }).toBeGreaterThanOrEqual(1);
  await nav(page, 'Privacy');
  await expect
    .poll(async () => Number(await page.locator('[data-field="sent batches"]').textContent()), { timeout: 30_000 })
    .toBeGreaterThan(0);
  expect(Number(await page.locator('[data-field="sent events"]').textContent())).toBeGreaterThan(0);
  // The privacy page's radio group says where the shopper stands.
  await expect(page.getByTestId('consent-signals')).toBeChecked();
});

test('switching to none on the privacy page erases the stored profile at once', async ({ page }) => {
  await openDemo(page, '/', { consent: 'profile' });
  await interact(page);
  await expect.poll(async () => (await qaProfile(page)).events.length).toBeGreaterThan(0);
  expect(await databases(page)).toContain('vitrine');

  await nav(page, 'Privacy');
  await page.getByTestId('consent-none').check();
  await expect(page.locator('[data-field="consent"]')).toHaveText('none');
  await expect.poll(() => databases(page)).not.toContain('vitrine');
  await expect(page.getByTestId('stored-summary')).toHaveText('Nothing: you chose “No personalization storage”.');
  await expect.poll(async () => (await qaProfile(page)).events).toEqual([]);
  expect(await page.evaluate((k) => localStorage.getItem(k), KEYS.consent)).toBe('none');

  // And back: the profile starts again from nothing.
  await page.getByTestId('consent-profile').check();
  await expect(page.locator('[data-field="profile storage"]')).toHaveText('indexeddb');
  await nav(page, 'Home');
  await interact(page);
  await expect.poll(async () => (await qaProfile(page)).events.map((e) => e.outcome)).toEqual(expect.arrayContaining(['click', 'dismiss']));
});
