import { defaultClientConditions, defaultServerConditions, defineConfig } from 'vite';
import { defineConfig as defineVitest, mergeConfig } from 'vitest/config';

// Workspace packages resolve to their TypeScript sources through the `source` export condition,
// so tests run what is in the tree, never a stale build (`@vitrine/sdk` without it is dist/).
export default mergeConfig(
  // Browser-environment tests (happy-dom) resolve with the client conditions: `source` first there too.
  defineConfig({
    resolve: { conditions: ['source', ...defaultClientConditions] },
    ssr: { resolve: { conditions: ['source', ...defaultServerConditions] } },
  }),
  defineVitest({
    test: {
      include: ['packages/*/test/**/*.test.ts', 'models/test/**/*.test.ts', 'scripts/**/*.test.ts'],
      testTimeout: 60_000,
    },
  }),
);
