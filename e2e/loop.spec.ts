import * as v from 'valibot';
import { test, expect } from './fixtures';
import { BatchSchema } from '@vitrine/core/protocol';
import { ADMIN_TOKEN, SERVER_PORT } from './playwright.config';
import { DEMO, cards, nav, qaProfile, rankedIds, setUpDemo, slot } from './demo-helpers';

const SERVER = `http://127.0.0.1:${SERVER_PORT}`;

/** Every request the shop page may make: its own assets, the SDK, and the Vitrine endpoints. */
const ALLOWED: RegExp[] = [
  /^\/$/,
  /^\/src\//,
  /^\/@vite\//,
  /^\/@id\//,
  /^\/@fs\//,
  /^\/@react-refresh$/,
  /^\/node_modules\//,
  /^\/favicon\.ico$/,
  /^\/sdk\//,
  /^\/v1\/models\/current$/,
  /^\/v1\/models\/[A-Za-z0-9._-]+\/(manifest\.json|weights\.bin)$/,
  /^\/v1\/privacy$/,
  /^\/v1\/policy$/,
  /^\/v1\/signals$/,
];

interface Seen {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body: string | null;
}

test('reward loop: consented signals only, a DP round, shadow evidence, and the next page load uses the new model', async ({
  page,
  request,
}) => {
  test.setTimeout(240_000);
  const seen: Seen[] = [];
  const pending: Promise<unknown>[] = [];
  page.on('request', (r) => {
    pending.push(
      r.allHeaders().then(
        (headers) => seen.push({ method: r.method(), url: new URL(r.url()), headers, body: r.postData() }),
        () => undefined,
      ),
    );
  });
  const stats = async () => (await request.get(`${SERVER}/v1/stats`)).json();
  const aggregate = async () =>
    (await request.post(`${SERVER}/v1/admin/rounds`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json();
  const seedVersion = (await stats()).models.current as string;

  // Tall enough for the home page's five cards to be on screen at once (views need 50% visible).
  await page.setViewportSize({ width: 1280, height: 1400 });
  // A shop cookie exists on the page; it must never reach the Vitrine endpoint.
  await setUpDemo(page); // a first visit: the consent banner shows, the shop's default ('profile') applies
  await page.goto(`${DEMO}/`);
  await page.evaluate(() => {
    document.cookie = 'shop_session=s3cr3t; path=/';
  });
  await expect(cards(page, 'offers-for-you')).toHaveCount(4, { timeout: 60_000 });
  await expect(page.locator('[data-field="model version"]')).toHaveText(seedVersion);
  // Without consent to signals: nothing but public documents (the model, the merchant's policy), fetched with GET.
  const publicDocument = (p: string) => p.startsWith('/v1/models/') || p === '/v1/policy';
  expect(seen.filter((s) => s.url.pathname.startsWith('/v1/') && (s.method !== 'GET' || !publicDocument(s.url.pathname)))).toEqual([]);

  await page.getByTestId('consent-banner').getByRole('button', { name: 'Personalize and help improve offers' }).click();
  await expect(page.getByTestId('privacy')).toContainText('"consent": "signals"');
  /**
   * Each round is a new visit of the home page (both slots rank afresh: new decisions); the shopper
   * sees its five cards (views count after 1 s at 50% visible, recorded in the profile too), then
   * clicks or dismisses one.
   */
  const act = async (rounds: number) => {
    for (let i = 0; i < rounds; i++) {
      await nav(page, 'Cart');
      await nav(page, 'Home');
      const seen = (await qaProfile(page)).events.length;
      const id = (await rankedIds(page, 'offers-for-you'))[i % 2];
      await rankedIds(page, 'hero');
      await expect.poll(async () => (await qaProfile(page)).events.length, { timeout: 10_000 }).toBeGreaterThanOrEqual(seen + 5);
      await slot(page, 'offers-for-you')
        .locator(`[data-vitrine-activity="${id}"] [data-action="${i % 3 === 2 ? 'dismiss' : 'get'}"]`)
        .click();
    }
  };
  await act(3);
  // Leaving the page flushes with keepalive; anything not acknowledged is resent by the next page.
  await page.reload();
  await expect(cards(page, 'offers-for-you')).toHaveCount(4, { timeout: 60_000 });
  await expect.poll(async () => (await stats()).signals.updates, { timeout: 30_000 }).toBeGreaterThanOrEqual(1);

  const round = await aggregate();
  expect(round.status).toBe('published-shadow');
  const shadow = round.candidate as string;
  expect(shadow).not.toBe(seedVersion);
  expect((await stats()).models.shadow).toBe(shadow);

  // Next page: the SDK loads the shadow beside the current model and reports propensities for it.
  await page.reload();
  await expect(cards(page, 'offers-for-you')).toHaveCount(4, { timeout: 60_000 });
  await expect.poll(() => seen.some((s) => s.url.pathname === `/v1/models/${shadow}/weights.bin`), { timeout: 30_000 }).toBe(true);
  await act(4);
  // The QA panel's "Send pending signals now": the batch with shadow propensities leaves while the page lives.
  await page.getByTestId('qa-flush').click();
  await expect
    .poll(() => seen.some((s) => s.method === 'POST' && s.body !== null && JSON.parse(s.body).shadow === shadow), { timeout: 30_000 })
    .toBe(true);
  await page.reload();
  await expect(cards(page, 'offers-for-you')).toHaveCount(4, { timeout: 60_000 });
  let last: { promotion?: { decision: string } } = {};
  await expect
    .poll(
      async () => {
        last = await aggregate();
        return last.promotion?.decision;
      },
      { timeout: 30_000 },
    )
    .toBe('promoted')
    .catch((e) => {
      throw new Error(`${e.message}\nlast round: ${JSON.stringify(last)}`);
    });
  expect((await stats()).models.current).toBe(shadow);

  // The next page load ranks with the promoted version.
  await page.reload();
  await expect(page.locator('[data-field="model version"]')).toHaveText(shadow, { timeout: 60_000 });
  await expect(cards(page, 'offers-for-you')).toHaveCount(4);

  await Promise.all(pending);
  // Every request the page made is on the allow-list; signals are cookieless text/plain batches
  // of allow-listed fields that hold nothing about the shopper.
  const offList = seen.filter((s) => s.url.host !== '127.0.0.1:5174' || !ALLOWED.some((re) => re.test(s.url.pathname)));
  expect(offList.map((s) => `${s.method} ${s.url.href}`)).toEqual([]);
  const posts = seen.filter((s) => s.method === 'POST');
  expect(posts.length).toBeGreaterThanOrEqual(2);
  const shopper = ['Female', '1~3', 'never', '4~8', 'Friend(s)', 'No Urgent Place', 's3cr3t'];
  for (const p of posts) {
    expect(p.url.pathname).toBe('/v1/signals');
    expect(p.headers.cookie).toBeUndefined();
    expect(p.headers['content-type']).toMatch(/^text\/plain/);
    const body = JSON.parse(p.body!);
    expect(v.safeParse(BatchSchema, body).success).toBe(true);
    for (const s of shopper) expect(p.body).not.toContain(s);
  }
  for (const s of seen.filter((x) => x.method === 'GET' && x.url.pathname.startsWith('/v1/'))) {
    expect(s.url.search).toBe('');
    expect(s.headers.cookie).toBeUndefined();
  }
  const shadowPosts = posts.map((p) => JSON.parse(p.body!)).filter((b) => b.shadow === shadow);
  expect(shadowPosts.length).toBeGreaterThanOrEqual(1);
});
