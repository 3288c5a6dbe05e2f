import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';
import react from '@vitejs/plugin-react';
import sirv from 'sirv';

/**
 * The built SDK, found through the package (`npm run build` writes it). The page imports
 * `@vitrine/react` and `@vitrine/sdk` by name, which resolve to their built dist (the "import"
 * export), so the shop runs exactly what ships; this folder is also served at /sdk/ for the wasm
 * binaries (options.wasmPaths) and the script-tag build.
 */
const sdkDist = join(dirname(createRequire(import.meta.url).resolve('@vitrine/sdk/package.json')), 'dist');

/** Serves the built SDK at /sdk/, as a shop's CDN would (models come from the Vitrine server). */
function vitrineAssets(): Plugin {
  const mount = (server: { middlewares: { use: (path: string, fn: unknown) => void } }) => {
    server.middlewares.use('/sdk', sirv(sdkDist, { dev: true }));
  };
  return { name: 'vitrine-assets', configureServer: mount, configurePreviewServer: mount };
}

// The Vitrine server (`npm run server`; `npm start` runs both): same origin for the page.
const proxy = { '/v1': process.env.VITRINE_SERVER ?? 'http://127.0.0.1:8787' };

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  plugins: [react(), vitrineAssets()],
  // Pre-bundled at start-up, so a page visited later (the privacy page's chart) never triggers a re-optimisation and reload.
  optimizeDeps: { include: ['react', 'react-dom', 'react-dom/client', 'react/jsx-runtime', 'react/jsx-dev-runtime', 'chart.js'] },
  // QA loop servers publish privacy below the SDK's floors; the page then loosens them (src/options.ts).
  // VITRINE_MODEL_KEY: the server's model signing public key (SPKI base64), pinned by the page (`npm start` sets it).
  define: {
    __VITRINE_QA_LOOP__: JSON.stringify(process.env.VITRINE_QA_LOOP === '1'),
    __VITRINE_MODEL_KEY__: JSON.stringify(process.env.VITRINE_MODEL_KEY ?? ''),
  },
  server: { host: '127.0.0.1', port: Number(process.env.DEMO_PORT ?? 5173), strictPort: true, proxy },
  preview: { host: '127.0.0.1', port: Number(process.env.DEMO_PORT ?? 5173), proxy },
});
