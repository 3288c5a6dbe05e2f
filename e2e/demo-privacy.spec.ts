/**
 * The demo shop's privacy page: the stored profile as a JSON download, ε spent over time as a
 * chart with a text alternative, and "Forget me".
 */
import { readFile } from 'node:fs/promises';
import type { Page } from '@playwright/test';
import type { ProfileExport } from '@vitrine/sdk';
import { test, expect } from './fixtures';
import { nav, openDemo, qaProfile, rankedIds, slot } from './demo-helpers';

/** "Get offer" on the strip's first ranked card; returns its id. */
async function getFirstOffer(page: Page): Promise<string> {
  const [id] = await rankedIds(page, 'offers-for-you');
  await slot(page, 'offers-for-you').locator(`[data-vitrine-activity="${id}"] [data-action="get"]`).click();
  return id;
}

test('"Download as JSON" saves the stored profile as valid JSON', async ({ page }) => {
  await openDemo(page, '/', { consent: 'profile' });
  const clicked = await getFirstOffer(page);
  await expect.poll(async () => (await qaProfile(page)).events.some((e) => e.outcome === 'click')).toBe(true);
  await nav(page, 'Privacy');
  await expect(page.getByTestId('stored-summary')).toContainText('IndexedDB');
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download as JSON' }).click()]);
  expect(download.suggestedFilename()).toBe('vitrine-profile.json');
  const saved: ProfileExport = JSON.parse(await readFile((await download.path())!, 'utf8'));
  expect(saved.storage).toBe('indexeddb');
  expect(saved.events).toContainEqual(expect.objectContaining({ activityId: clicked, outcome: 'click' }));
  expect(saved.user).toMatchObject({ gender: 'Female', CoffeeHouse: '1~3' });
  // What the file holds is what the SDK exports (the QA panel's copy, read afresh every second).
  await expect.poll(async () => (await qaProfile(page)).events).toEqual(saved.events);
});

test('ε spent over time: a chart that renders, with a text alternative', async ({ page }) => {
  await openDemo(page, '/', { consent: 'signals' });
  await nav(page, 'Privacy');
  // Before anything is sent (the device's ledger has no contribution): a chart that says so.
  await expect(page.locator('[data-field="sent updates"]')).toHaveText('0');
  const canvas = page.getByTestId('epsilon-chart').locator('canvas');
  await expect(canvas).toHaveAttribute('role', 'img');
  await expect(canvas).toHaveAttribute('aria-label', /No privacy budget spent yet/);

  await nav(page, 'Home');
  await getFirstOffer(page);
  await page.getByTestId('qa-flush').click();
  await nav(page, 'Privacy');
  await expect
    .poll(async () => Number(await page.locator('[data-field="sent updates"]').textContent()), { timeout: 30_000 })
    .toBeGreaterThan(0);
  // From the device's ledger after the update: ε above zero, in the label, the caption and the table.
  await expect(canvas).toHaveAttribute(
    'aria-label',
    /Privacy budget spent \(ε\) over time: \d+ contributions? .* now [0-9.e+-]+ of a budget of/,
    {
      timeout: 10_000,
    },
  );
  const label = (await canvas.getAttribute('aria-label'))!;
  expect(Number(/now ([0-9.e+-]+)/.exec(label)![1])).toBeGreaterThan(0);
  await expect(page.getByTestId('epsilon-chart').locator('figcaption')).toHaveText(label);
  await page.getByText('Show the contributions as a table').click();
  // One row per model update this device contributed (each charged to its ledger before it was sent).
  const rows = page.getByTestId('epsilon-table').locator('tbody tr');
  await expect(rows).toHaveCount(Number(await page.locator('[data-field="sent updates"]').textContent()));
  // The canvas really drew something (a line and axes), at a real size.
  const drawn = await canvas.evaluate((c: HTMLCanvasElement) => {
    const data = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    let painted = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i] > 0) painted++;
    return { width: c.width, height: c.height, painted };
  });
  expect(drawn.width).toBeGreaterThan(100);
  expect(drawn.height).toBeGreaterThan(100);
  expect(drawn.painted).toBeGreaterThan(500);
});

test('"Forget me" on the privacy page empties what is stored', async ({ page }) => {
  await openDemo(page, '/', { consent: 'profile' });
  await getFirstOffer(page);
  await expect.poll(async () => (await qaProfile(page)).events.length).toBeGreaterThan(0);
  await nav(page, 'Privacy');
  await expect(page.getByTestId('stored-summary')).not.toContainText(/^0 events/);
  await page.getByRole('main').getByRole('button', { name: 'Forget me' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'erased' })).toBeVisible();
  await expect(page.getByTestId('stored-summary')).toContainText(/^0 events/);
  await expect(page.getByRole('table', { name: 'Your latest activity' })).toHaveCount(0);
  await expect.poll(async () => (await qaProfile(page)).events).toEqual([]);
  const profile = await qaProfile(page);
  expect(profile.aggregates.total).toEqual({ views: 0, positives: 0, negatives: 0 });
});
