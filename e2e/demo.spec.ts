import { test, expect } from './fixtures';

const DEMO = 'http://127.0.0.1:5174/';

test('demo shop: ranked cards, QA panel, tracking changes the profile, forget clears it', async ({ page }) => {
  await page.goto(DEMO);
  await expect(page.locator('.card')).toHaveCount(4, { timeout: 60_000 });
  await expect(page.locator('[data-field="model version"]')).toHaveText(/^coupons-/);
  await expect(page.locator('[data-field="profile storage"]')).toHaveText('indexeddb');
  await expect(page.locator('[data-field="degraded"]')).toHaveText('no');
  const backend = await page.locator('[data-field="backend"]').textContent();
  expect(['webgpu', 'wasm']).toContain(backend);
  await expect(page.locator('#decision tbody tr')).toHaveCount(4);

  const first = await page.locator('.card').first().getAttribute('data-id');
  await page.locator('.card').first().locator('button[data-outcome="dismiss"]').click();
  await expect(page.locator('[data-testid="profile"]')).toContainText(`"activityId": "${first}"`);

  await page.selectOption('[data-testid="backend"]', 'cpu');
  await expect(page.locator('[data-field="backend"]')).toHaveText('cpu');
  await expect(page.locator('.card')).toHaveCount(4);

  await page.click('#forget');
  // Forgotten: the profile holds only the views of the cards shown since (the demo tracks views).
  await expect
    .poll(async () =>
      JSON.parse((await page.locator('[data-testid="profile"]').textContent())!).events?.map((e: { outcome: string }) => e.outcome),
    )
    .toEqual(['view', 'view', 'view', 'view']);
});
