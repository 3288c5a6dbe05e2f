import { fileURLToPath } from 'node:url';
import { mergeConfig } from 'vite';
import react19 from '../react19/vite.config.js';

const nested = (pkg: string) => fileURLToPath(new URL(`node_modules/${pkg}`, import.meta.url));

/**
 * The same shop sources as e2e/apps/react19, built with this app's React 18 (nested in its own
 * node_modules): every import of react and react-dom, @vitrine/react's included, goes there.
 */
export default mergeConfig(react19, {
  resolve: {
    alias: [
      { find: /^react-dom(\/.*)?$/, replacement: `${nested('react-dom')}$1` },
      { find: /^react(\/.*)?$/, replacement: `${nested('react')}$1` },
    ],
  },
});
