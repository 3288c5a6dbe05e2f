/**
 * Signed model delivery in real Chromium: the pinned key (option and data-model-key), manifests
 * signed by the e2e server, and attacks served through page.route: new weights with matching
 * hashes under the old label, another key, a stale (lower-sequence) publication, a signed
 * rollback. Every test also fails on a page error, a console error or an unhandled rejection.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Page } from '@playwright/test';
import {
  generateSigningKeyPair,
  importSigningKey,
  signManifest,
  type ModelManifest,
  type PublicationRole,
  type SigningKey,
} from '@vitrine/core/artifact';
import { CATALOG, MODEL, expect, init, test, type TestWindow } from './fixtures';
import { TEST_MODEL_KEY } from './playwright.config';
import { setUpDemo } from './demo-helpers';

/** The demo shop the e2e config starts (port 5174), proxying /v1 to the e2e server, which signs with the TEST-ONLY key. */
const DEMO = 'http://127.0.0.1:5174/';
const SIGNED = '/models/coupons/signed-manifest.json'; // served by page.route; weight paths resolve beside the real files
const subtle = globalThis.crypto.subtle;
const seed: ModelManifest = JSON.parse(readFileSync(new URL('../models/coupons/manifest.json', import.meta.url), 'utf8'));
const seedWeights = readFileSync(new URL(`../models/coupons/${seed.files[0].path}`, import.meta.url));
const testKey = importSigningKey(subtle, readFileSync(new URL('keys/TEST-ONLY-model-signing-key.pem', import.meta.url), 'utf8'));

/** The seed's weights with one byte changed, its own sha256 and, unless `keepLabel`, its own content label. */
function variant(flip: number, keepLabel = false): { manifest: ModelManifest; bin: Buffer } {
  const bin = Buffer.from(seedWeights);
  bin[flip] ^= 0x01;
  const sha256 = createHash('sha256').update(bin).digest('hex');
  const version = keepLabel ? seed.version : `coupons-${sha256.slice(0, 12)}`;
  return { manifest: { ...seed, version, files: [{ path: `variant-${flip}/weights.bin`, bytes: bin.length, sha256 }] }, bin };
}

/** Serves `manifest` at SIGNED (and a variant's weights beside it); returns the weight requests seen. */
async function serve(page: Page, manifest: object, bin?: Buffer): Promise<string[]> {
  const weightRequests: string[] = [];
  await page.unrouteAll();
  await page.route(`**${SIGNED}`, (route) => route.fulfill({ contentType: 'application/json', body: JSON.stringify(manifest) }));
  await page.route('**/*.bin', (route) => {
    weightRequests.push(new URL(route.request().url()).pathname);
    return bin && route.request().url().includes('/variant-') ? route.fulfill({ body: bin }) : route.continue();
  });
  return weightRequests;
}

const sign = async (m: ModelManifest, publication: { sequence: number; rollbackOf?: string; role?: PublicationRole }, key?: SigningKey) =>
  signManifest(subtle, m, key ?? (await testKey), { role: 'current', ...publication });

type Status = Awaited<ReturnType<typeof init>>;
const rank = (page: Page) => page.evaluate((c) => (window as unknown as TestWindow).__v.rank(c, { slots: 3 }), CATALOG);
const pinned = { backend: 'wasm', storage: 'memory', modelKey: TEST_MODEL_KEY } as const;

test.beforeEach(async ({ page }) => {
  await page.addInitScript(() => {
    (window as unknown as { __rejections: string[] }).__rejections = [];
    window.addEventListener('unhandledrejection', (e) =>
      (window as unknown as { __rejections: string[] }).__rejections.push(String(e.reason)),
    );
  });
});
test.afterEach(async ({ page }) => {
  expect(await page.evaluate(() => (window as unknown as { __rejections: string[] }).__rejections)).toEqual([]);
});

test('models the e2e server signed load with the pinned key: the demo shop (option) and a script tag (data-model-key)', async ({
  page,
}) => {
  const keyId = (await testKey).keyId;
  // The demo shop pins VITRINE_MODEL_KEY and reaches the server through its same-origin /v1 proxy (QA panel open).
  await setUpDemo(page, { consent: 'profile' });
  await page.goto(DEMO);
  await expect(page.locator('[data-field="model signature"]')).toHaveText(new RegExp(`^verified \\(key ${keyId}, sequence \\d+`), {
    timeout: 60_000,
  });
  await expect(page.locator('[data-field="degraded"]')).toHaveText('no');

  // A shop page on the same origin with the script tag: data-model-key pins the same key.
  await page.route(`${DEMO}signed-tag.html`, (route) =>
    route.fulfill({
      contentType: 'text/html',
      body: `<!doctype html><html><head><meta charset="utf-8"><title>t</title>
        <script async src="/sdk/vitrine.min.js" data-model="/v1/models/current" data-backend="wasm"
          data-model-key="${TEST_MODEL_KEY}"></script></head><body></body></html>`,
    }),
  );
  await page.goto(`${DEMO}signed-tag.html`);
  const tag = await page.evaluate(async () => {
    type W = { Vitrine?: { ready?: Promise<{ status: Status }> } };
    while (!(window as unknown as W).Vitrine?.ready) await new Promise((r) => setTimeout(r, 5));
    return (await (window as unknown as W).Vitrine!.ready!).status;
  });
  expect(tag.degraded).toBeUndefined();
  expect(tag.integrity).toMatchObject({ signature: 'verified', keyId, versionLabel: 'matches', source: 'network' });
  expect(tag.integrity!.sequence).toBeGreaterThanOrEqual(1);
});

test('without a pinned key the status says the signature is unchecked', async ({ page }) => {
  const status = await init(page, { backend: 'wasm', storage: 'memory', model: MODEL });
  expect(status.integrity).toMatchObject({ signature: 'unchecked', versionLabel: 'matches' });
});

test('new weights with matching hashes under the old label are refused, even re-signed by the right key', async ({ page }) => {
  const evil = variant(4000, true); // same label as the seed
  // The server's signature kept (no longer matches) …
  const good = await sign(seed, { sequence: 1 });
  const weights1 = await serve(page, { ...good, files: evil.manifest.files }, evil.bin);
  let status = await init(page, { ...pinned, model: SIGNED });
  expect(status.backend).toBe('rules');
  expect(status.degraded).toMatch(/^model_integrity: the signature does not verify with the pinned key/);
  expect(weights1).toEqual([]); // refused before any weight is fetched
  const d = await rank(page);
  expect(d.backend).toBe('rules');
  expect(d.items.map((i) => i.id)).toEqual(CATALOG.slice(0, 3).map((a) => a.id));
  // … or a valid signature over the lie (a compromised publish step): the label gives it away.
  await serve(page, await sign(evil.manifest, { sequence: 2 }), evil.bin);
  status = await init(page, { ...pinned, model: SIGNED });
  expect(status.degraded).toMatch(new RegExp(`^model_integrity: version label ${seed.version} does not match its weights`));
});

test('a manifest signed with another key is refused; the cached last good model is used', async ({ page }) => {
  await serve(page, await sign(seed, { sequence: 3 }));
  expect((await init(page, { ...pinned, model: SIGNED })).integrity).toMatchObject({ signature: 'verified', sequence: 3 });
  const { privateKeyPem } = await generateSigningKeyPair(subtle);
  const other = variant(77);
  const weights = await serve(page, await sign(other.manifest, { sequence: 99 }, await importSigningKey(subtle, privateKeyPem)), other.bin);
  const status = await init(page, { ...pinned, model: SIGNED });
  expect(status.degraded).toBeUndefined();
  expect(status.modelVersion).toBe(seed.version);
  expect(status.warnings.join(' ')).toMatch(/refused \(signed with key [0-9a-f]{16}, not the pinned key/);
  expect(status.integrity).toMatchObject({ signature: 'verified', sequence: 3, source: 'last-good' });
  expect(weights).toEqual([]);
  expect((await rank(page)).backend).toBe('wasm');
});

test('a stale manifest (lower sequence) is refused with a warning and the cached model is used', async ({ page }) => {
  const newer = variant(1500);
  await serve(page, await sign(newer.manifest, { sequence: 10 }), newer.bin);
  expect((await init(page, { ...pinned, model: SIGNED })).modelVersion).toBe(newer.manifest.version);
  // The retired seed, validly signed at an earlier publish, served as current again.
  const weights = await serve(page, await sign(seed, { sequence: 9 }), newer.bin);
  const status = await init(page, { ...pinned, model: SIGNED });
  expect(status.degraded).toBeUndefined();
  expect(status.modelVersion).toBe(newer.manifest.version);
  expect(status.warnings.join(' ')).toMatch(/stale manifest: sequence 9 is below 10/);
  expect(status.integrity).toMatchObject({ signature: 'verified', sequence: 10, source: 'last-good' });
  expect(weights.filter((p) => !p.includes('variant-'))).toEqual([]); // the stale version's weights were never fetched
  const d = await rank(page);
  expect(d.backend).toBe('wasm');
  expect(d.modelVersion).toBe(newer.manifest.version);
});

test('a signed shadow served as the current model is refused though its sequence is higher; the floor is reported', async ({ page }) => {
  await serve(page, await sign(seed, { sequence: 30 }));
  const first = await init(page, { ...pinned, model: SIGNED });
  expect(first.integrity).toMatchObject({ signature: 'verified', role: 'current', sequence: 30, rollbackFloor: 'none' });
  // The next round's shadow (or a candidate the gate later rejected), validly signed, at the current URL.
  const candidate = variant(3100);
  const weights = await serve(page, await sign(candidate.manifest, { sequence: 31, role: 'shadow' }), candidate.bin);
  const status = await init(page, { ...pinned, model: SIGNED });
  expect(status.degraded).toBeUndefined();
  expect(status.modelVersion).toBe(seed.version);
  expect(status.warnings.join(' ')).toMatch(/was published as the shadow model, not the current one/);
  expect(status.integrity).toMatchObject({ sequence: 30, source: 'last-good', rollbackFloor: 30 });
  expect(weights.filter((p) => p.includes('variant-'))).toEqual([]);
});

test('a signed rollback (older version, higher sequence, rollbackOf) is accepted', async ({ page }) => {
  const bad = variant(2500);
  await serve(page, await sign(bad.manifest, { sequence: 20 }), bad.bin);
  expect((await init(page, { ...pinned, model: SIGNED })).modelVersion).toBe(bad.manifest.version);
  await serve(page, await sign(seed, { sequence: 21, rollbackOf: bad.manifest.version }));
  const status = await init(page, { ...pinned, model: SIGNED });
  expect(status.degraded).toBeUndefined();
  expect(status.warnings).toEqual([]);
  expect(status.modelVersion).toBe(seed.version);
  expect(status.integrity).toMatchObject({ signature: 'verified', sequence: 21, rollbackOf: bad.manifest.version, source: 'network' });
  // The withdrawn version cannot come back under its old sequence.
  await serve(page, await sign(bad.manifest, { sequence: 20 }), bad.bin);
  const again = await init(page, { ...pinned, model: SIGNED });
  expect(again.modelVersion).toBe(seed.version);
  expect(again.warnings.join(' ')).toMatch(/sequence 20 is below 21/);
});

test('a bad modelKey rejects init with invalid_options and nothing reaches the page', async ({ page }) => {
  await page.goto('/e2e/sdk.html');
  const err = await page.evaluate(async (model) => {
    while (!(window as unknown as TestWindow).Vitrine) await new Promise((r) => setTimeout(r, 5));
    return (window as unknown as TestWindow).Vitrine.init({ model, modelKey: 'not-a-key' }).then(
      () => null,
      (e) => ({ name: e.name, code: e.code, field: e.field }),
    );
  }, MODEL);
  expect(err).toEqual({ name: 'VitrineError', code: 'invalid_options', field: 'options.modelKey' });
});

test('signature check cost in Chromium (reported)', async ({ page }) => {
  await serve(page, await sign(seed, { sequence: 1 }));
  const times: number[] = [];
  for (let i = 0; i < 7; i++) {
    const status = await init(page, { ...pinned, model: SIGNED });
    expect(status.integrity?.signature).toBe('verified');
    times.push(status.integrity!.verifyMs!);
  }
  times.sort((a, b) => a - b);
  const report = { verifyMsMedian: times[3], verifyMsMin: times[0], verifyMsMax: times[6], runs: times.length };
  test.info().annotations.push({ type: 'signature-verify', description: JSON.stringify(report) });
  console.log(`signature + label check in Chromium: ${JSON.stringify(report)}`);
  expect(times[3]).toBeLessThan(200);
});
