/// <reference types="vitest/config" />
import { defineConfig } from 'vite';

// Tauri serves the built page from `dist/`; in development it loads the dev server's fixed port.
export default defineConfig({
  // JSX goes through Preact's automatic runtime (see tsconfig `jsxImportSource`).
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  clearScreen: false,
  server: { port: 1420, strictPort: true },
  build: {
    target: 'es2022',
    // The page is loaded from disk by the app: no source maps shipped, no inlined assets that a
    // strict CSP would refuse.
    sourcemap: false,
    assetsInlineLimit: 0,
    // A budget, not a default: the page loads from disk, but every KB is parsed at start-up.
    chunkSizeWarningLimit: 240,
  },
  test: {
    environment: 'jsdom',
    include: ['tests/**/*.test.{ts,tsx}'],
    setupFiles: ['tests/setup.ts'],
  },
});
