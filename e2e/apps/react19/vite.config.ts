import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

/** The React 19 test shop (root node_modules' React); e2e/apps/react18 builds the same sources with React 18. */
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  logLevel: 'warn',
  plugins: [react()],
  // Server render in Node: everything bundled, so the SSR module carries this app's own React.
  ssr: { noExternal: true },
  build: { emptyOutDir: true, sourcemap: false },
});
