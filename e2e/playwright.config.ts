import { fileURLToPath } from 'node:url';
import { defineConfig } from '@playwright/test';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

export const CHROMIUM_ARGS = [
  '--enable-unsafe-webgpu', // WebGPU adapter in headless Chromium (SwiftShader here, isFallbackAdapter: true)
  '--enable-features=Vulkan',
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export default defineConfig({
  testDir: '.',
  testMatch: '*.spec.ts',
  timeout: 120_000,
  workers: 1, // 2-core machine; SwiftShader WebGPU is CPU-bound
  reporter: [['list']],
  use: {
    baseURL: 'http://127.0.0.1:4173',
    browserName: 'chromium',
    launchOptions: { executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS },
  },
  webServer: [
    {
      command: 'npx tsx scripts/serve.ts',
      cwd: ROOT,
      url: 'http://127.0.0.1:4173/e2e/blank.html',
      reuseExistingServer: !process.env.CI,
      env: { PORT: '4173' },
    },
    {
      command: 'npm run dev -w @vitrine/demo-shop',
      cwd: ROOT,
      url: 'http://127.0.0.1:5174/',
      reuseExistingServer: !process.env.CI,
      env: { DEMO_PORT: '5174' },
    },
  ],
});
