import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from '@playwright/test';
import { chromiumPath } from '../scripts/ensure-chromium';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const SERVER_PORT = 8790;
/** Public half (SPKI base64) of the TEST-ONLY key the e2e server signs models with (e2e/keys/README.md). */
export const TEST_MODEL_KEY = readFileSync(new URL('keys/TEST-ONLY-model-signing-key.pub', import.meta.url), 'utf8').trim();
/** The e2e server's admin token (admin routes always need one); a fixed test value, loopback only. */
export const ADMIN_TOKEN = 'e2e-admin-token-not-a-secret';

export const CHROMIUM_ARGS = [
  '--enable-unsafe-webgpu', // WebGPU adapter in headless Chromium (SwiftShader here, isFallbackAdapter: true)
  '--enable-features=Vulkan',
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export default defineConfig({
  // Fails with one line (or installs Debian's chromium as root) before any test if the browser is missing.
  globalSetup: '../scripts/ensure-chromium.ts',
  testDir: '.',
  testMatch: '*.spec.ts',
  timeout: 120_000,
  workers: 1, // 2-core machine; SwiftShader WebGPU is CPU-bound
  reporter: [['list']],
  use: {
    baseURL: 'http://127.0.0.1:4173',
    browserName: 'chromium',
    launchOptions: { executablePath: chromiumPath(), args: CHROMIUM_ARGS },
  },
  webServer: [
    {
      command: 'npx tsx --conditions=source scripts/serve.ts',
      cwd: ROOT,
      url: 'http://127.0.0.1:4173/e2e/blank.html',
      reuseExistingServer: !process.env.CI,
      env: { PORT: '4173' },
    },
    {
      // A real Vitrine server on a fresh embedded store. One shopper makes the rounds here, so
      // the cohort minimum is 1, the budget is huge (noise negligible) and the step small (one
      // shopper's gradient is the whole mean): this checks the loop's plumbing; the privacy
      // mechanisms and the promotion gate's power have their own tests (docs/privacy.md).
      command: [
        `node -e "require('fs').rmSync('.vitrine-e2e',{recursive:true,force:true})"`,
        'npx tsx --conditions=source packages/server/src/main.ts',
      ].join(' && '),
      cwd: ROOT,
      url: `http://127.0.0.1:${SERVER_PORT}/v1/privacy`,
      reuseExistingServer: false,
      env: {
        PORT: String(SERVER_PORT),
        VITRINE_DATA_DIR: '.vitrine-e2e',
        VITRINE_MIN_COHORT: '1',
        VITRINE_MIN_OPE_EVENTS: '4',
        VITRINE_EPSILON: '1000000',
        // One browser is one network: the gate's statistics have one unit, so any evidence promotes
        // (margin 1); the gate itself is tested in packages/server/test.
        VITRINE_MIN_OPE_NETWORKS: '1',
        VITRINE_ROUND_SPACING_HOURS: '0',
        VITRINE_PROMOTION_MARGIN: '1',
        VITRINE_ROUND_INTERVAL_MS: '0',
        VITRINE_RATE_LIMIT: '100000',
        VITRINE_LOG: '0',
        VITRINE_ADMIN_TOKEN: ADMIN_TOKEN,
        // Signs every publication with the TEST-ONLY key in e2e/keys (model-signing.spec.ts pins its public half).
        VITRINE_SIGNING_KEY_FILE: 'e2e/keys/TEST-ONLY-model-signing-key.pem',
      },
    },
    {
      command: 'npm run dev -w @vitrine/demo-shop',
      cwd: ROOT,
      url: 'http://127.0.0.1:5174/',
      reuseExistingServer: false,
      // The e2e server runs QA privacy: the demo loosens the SDK's privacy floors as `npm run start:qa-loop` does.
      env: {
        DEMO_PORT: '5174',
        VITRINE_SERVER: `http://127.0.0.1:${SERVER_PORT}`,
        VITRINE_QA_LOOP: '1',
        // The demo pins the e2e server's TEST-ONLY signing key, as `npm start` pins its dev key.
        VITRINE_MODEL_KEY: TEST_MODEL_KEY,
      },
    },
  ],
});
