import vue from '@vitejs/plugin-vue';
import { defineConfig } from 'vite';

// Built by e2e/vue.spec.ts (client bundle + SSR entry) against the BUILT @vitrine/vue: the
// package's "import" export condition, packages/vue/dist.
export default defineConfig({
  plugins: [vue()],
  // Production Vue reports hydration mismatches only as one generic error; the test wants the details.
  define: { __VUE_PROD_HYDRATION_MISMATCH_DETAILS__: 'true' },
  // Node loads the built packages themselves when it renders (nothing of them bundled into the SSR entry;
  // 'vue' covers vue/server-renderer).
  ssr: { external: ['vue', '@vitrine/vue', '@vitrine/sdk'] },
  build: { emptyOutDir: true },
});
