import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig, type Plugin } from 'vite';

const HERE = fileURLToPath(new URL('.', import.meta.url));

/** Fails the build unless @vitrine/react comes from the built package (its "import" export), not its sources. */
export function builtBindings(pkg: string): Plugin {
  return {
    name: 'vitrine-built-bindings',
    enforce: 'pre',
    async resolveId(source, importer, options) {
      if (source !== pkg) return null;
      const resolved = await this.resolve(source, importer, { ...options, skipSelf: true });
      if (!resolved || !/[\\/]packages[\\/][^\\/]+[\\/]dist[\\/]index\.js$/.test(resolved.id)) {
        throw new Error(`${pkg} must resolve to its built dist/index.js, got ${resolved?.id}`);
      }
      return resolved;
    },
  };
}

/** The React 19 test shop (root node_modules' React); e2e/apps/react18 builds the same sources with React 18. */
export default defineConfig({
  root: HERE,
  logLevel: 'warn',
  plugins: [react(), builtBindings('@vitrine/react')],
  // Server render in Node: everything bundled, so the SSR module carries this app's own React.
  ssr: { noExternal: true },
  build: { emptyOutDir: true, sourcemap: false },
});
