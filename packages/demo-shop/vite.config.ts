import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';
import sirv from 'sirv';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Serves the built SDK at /sdk/ and the published models at /models/, as a shop's CDN would. */
function vitrineAssets(): Plugin {
  const mount = (server: { middlewares: { use: (path: string, fn: unknown) => void } }) => {
    server.middlewares.use('/sdk', sirv(`${root}packages/sdk/dist`, { dev: true }));
    server.middlewares.use('/models', sirv(`${root}models`, { dev: true }));
  };
  return { name: 'vitrine-assets', configureServer: mount, configurePreviewServer: mount };
}

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  plugins: [vitrineAssets()],
  server: { host: '127.0.0.1', port: Number(process.env.DEMO_PORT ?? 5173), strictPort: true },
  preview: { host: '127.0.0.1', port: Number(process.env.DEMO_PORT ?? 5173) },
});
