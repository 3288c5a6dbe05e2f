import { defaultServerConditions, defineConfig } from 'vite';
import { defineConfig as defineVitest, mergeConfig } from 'vitest/config';

// Workspace packages resolve to their TypeScript sources through the `source` export condition,
// so tests run what is in the tree, never a stale build (`@vitrine/sdk` without it is dist/).
export default mergeConfig(
  defineConfig({ ssr: { resolve: { conditions: ['source', ...defaultServerConditions] } } }),
  defineVitest({
    test: {
      include: ['packages/*/test/**/*.test.ts', 'models/test/**/*.test.ts', 'scripts/**/*.test.ts'],
      testTimeout: 60_000,
    },
  }),
);
