import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const nested = (pkg: string) => fileURLToPath(new URL(`node_modules/${pkg}`, import.meta.url));

/**
 * The same shop as e2e/apps/react19 (its index.html and sources: `root`), built with this app's
 * React 18, nested in its own node_modules: every import of react and react-dom, those of
 * @vitrine/react's dist included, goes there.
 */
export default defineConfig({
  root: fileURLToPath(new URL('../react19', import.meta.url)),
  logLevel: 'warn',
  plugins: [react()],
  resolve: {
    alias: [
      { find: /^react-dom(\/.*)?$/, replacement: `${nested('react-dom')}$1` },
      { find: /^react(\/.*)?$/, replacement: `${nested('react')}$1` },
    ],
  },
  ssr: { noExternal: true },
  build: { emptyOutDir: true, sourcemap: false },
});
