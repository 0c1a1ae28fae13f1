/// <reference types="vitest/config" />
import { defineConfig, type Plugin } from 'vite';

/** The start-up budget: what the page parses before its first screen (the entry chunk). */
const ENTRY_BUDGET_KB = 240;

/**
 * Fails the build when the entry chunk passes the budget. Chunks loaded later (pdf.js, only when
 * a PDF is previewed) do not count: they are parsed when needed, not at start-up.
 */
function entryBudget(): Plugin {
  return {
    name: 'entry-budget',
    generateBundle(_options, bundle) {
      for (const chunk of Object.values(bundle)) {
        if (chunk.type !== 'chunk' || !chunk.isEntry) continue;
        const kb = new TextEncoder().encode(chunk.code).length / 1000;
        if (kb > ENTRY_BUDGET_KB) {
          this.error(`${chunk.fileName} is ${kb.toFixed(1)} kB, over the ${ENTRY_BUDGET_KB} kB start-up budget`);
        }
      }
    },
  };
}

// Tauri serves the built page from `dist/`; in development it loads the dev server's fixed port.
export default defineConfig({
  // JSX goes through Preact's automatic runtime (see tsconfig `jsxImportSource`).
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  clearScreen: false,
  server: { port: 1420, strictPort: true },
  plugins: [entryBudget()],
  build: {
    target: 'es2022',
    // The page is loaded from disk by the app: no source maps shipped, no inlined assets that a
    // strict CSP would refuse.
    sourcemap: false,
    assetsInlineLimit: 0,
    // The entry chunk's budget is enforced by `entryBudget`; this only quiets the warning for
    // pdf.js, the one large chunk, which loads on demand.
    chunkSizeWarningLimit: 400,
  },
  test: {
    environment: 'jsdom',
    include: ['tests/**/*.test.{ts,tsx}'],
    setupFiles: ['tests/setup.ts'],
  },
});
