import { vitePlugin as remix } from '@remix-run/dev';
import { defineConfig } from 'vite';
import { fileURLToPath } from 'node:url';

declare module '@remix-run/node' {
  interface Future {
    v3_singleFetch: true;
  }
}

// monaco-editor >= 0.56 only exports `./*` → `./esm/vs/*.js`, so y-monaco 0.1.6's deep import
// `monaco-editor/esm/vs/editor/editor.api.js` no longer resolves. Point it at the public entry
// `monaco-editor/editor` (esm/vs/editor.js, which re-exports editor/editor.api.js), so y-monaco
// and our code share one Monaco instance. See docs/decisions/0001-remix-vite.md.
const monacoApi = fileURLToPath(new URL('./node_modules/monaco-editor/esm/vs/editor.js', import.meta.url));

export default defineConfig({
  plugins: [
    remix({
      future: {
        v3_fetcherPersist: true,
        v3_relativeSplatPath: true,
        v3_throwAbortReason: true,
        v3_lazyRouteDiscovery: true,
        v3_singleFetch: true,
      },
    }),
  ],
  resolve: {
    alias: [
      { find: /^monaco-editor\/esm\/vs\/editor\/editor\.api(\.js)?$/, replacement: monacoApi },
      { find: /^~\//, replacement: fileURLToPath(new URL('./app/', import.meta.url)) },
    ],
  },
  optimizeDeps: {
    // Monaco is loaded lazily on the client; pre-bundling it up front keeps the first edit fast in dev.
    include: ['monaco-editor/editor', 'y-monaco', 'yjs', 'y-websocket', 'y-protocols/awareness', 'marked', 'dompurify'],
  },
  build: {
    // Monaco is large; it lives in its own lazily loaded chunk
    chunkSizeWarningLimit: 5000,
  },
});
