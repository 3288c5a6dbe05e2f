/**
 * Accessibility of the demo shop's pages (axe-core, WCAG 2.x A/AA rules and best practices): no
 * serious or critical violation on home (consent banner and an open "Why this offer"), an offer,
 * the cart and the privacy page (chart drawn), each with the QA panel open.
 */
import AxeBuilder from '@axe-core/playwright';
import type { Page } from '@playwright/test';
import { test, expect } from './fixtures';
import { DEMO, cards, nav, rankedIds, setUpDemo, slot } from './demo-helpers';

async function seriousViolations(page: Page, where: string) {
  const result = await new AxeBuilder({ page }).analyze();
  const serious = result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({ where, rule: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => n.target.join(' ')) }));
  // axe really ran over the page: something passed.
  expect(result.passes.length).toBeGreaterThan(10);
  return serious;
}

test('every page passes axe with no serious or critical violation (QA panel open)', async ({ page }) => {
  test.setTimeout(180_000);
  await setUpDemo(page); // a first visit: the banner shows
  await page.goto(`${DEMO}/`);
  await expect(page.locator('[data-field="model version"]')).toHaveText(/^coupons-/, { timeout: 60_000 });
  await rankedIds(page, 'offers-for-you');
  await expect(page.getByTestId('consent-banner')).toBeVisible();
  const why = cards(page, 'offers-for-you').first().getByRole('button', { name: 'Why this offer' });
  await why.click();
  await expect(cards(page, 'offers-for-you').first().getByTestId('why')).toBeVisible();
  await page.getByText('Shopping situation:').click(); // the picker open too
  const found = await seriousViolations(page, 'home');

  await page.getByTestId('consent-banner').getByRole('button', { name: 'Personalize and help improve offers' }).click();
  const first = (await cards(page, 'offers-for-you').first().getAttribute('data-vitrine-activity'))!;
  await cards(page, 'offers-for-you').first().getByRole('link').click();
  await rankedIds(page, 'more-like-this');
  found.push(...(await seriousViolations(page, `offer ${first}`)));

  await page.getByRole('button', { name: 'Add to cart' }).click();
  await nav(page, 'Cart');
  await rankedIds(page, 'complete-your-order');
  await expect(slot(page, 'complete-your-order').locator('[data-vitrine-activity]')).toHaveCount(3);
  found.push(...(await seriousViolations(page, 'cart')));

  await nav(page, 'Privacy');
  await expect(page.getByTestId('epsilon-chart').locator('canvas')).toBeVisible();
  await page
    .getByText('Show the readings as a table')
    .click({ timeout: 1000 })
    .catch(() => undefined);
  found.push(...(await seriousViolations(page, 'privacy')));

  await page.goto(`${DEMO}/no-such-page`);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Page not found');
  found.push(...(await seriousViolations(page, 'not found')));
  expect(found).toEqual([]);
});

test('the shop can be used from the keyboard: skip link, navigation, focus moves to the new page', async ({ page }) => {
  await setUpDemo(page, { consent: 'profile' });
  await page.goto(`${DEMO}/`);
  await rankedIds(page, 'offers-for-you');
  await page.keyboard.press('Tab');
  const skip = page.getByRole('link', { name: 'Skip to content' });
  await expect(skip).toBeFocused();
  await expect(skip).toBeVisible();
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL(/#main$/);
  // Every card's controls are reachable with Tab: the strip's first card's title, buttons, disclosure.
  const card = cards(page, 'offers-for-you').first();
  await card.getByRole('link').focus();
  const reached: string[] = [];
  for (let i = 0; i < 4; i++) {
    await page.keyboard.press('Tab');
    reached.push(await page.evaluate(() => document.activeElement?.textContent?.trim() ?? ''));
  }
  expect(reached.slice(0, 3)).toEqual(['Get offer', 'Not for me', 'Why this offer']);
  // A link followed from the keyboard moves focus to the new page's heading.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Privacy' }).focus();
  await page.keyboard.press('Enter');
  await expect(page.getByRole('heading', { level: 1, name: 'Your privacy' })).toBeFocused();
  await expect(page).toHaveTitle(/Your privacy/);
});
