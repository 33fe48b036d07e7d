// Front end of the Tapprove tray app. Everything about the UI build lives in
// ui/; the root package.json only carries the dependencies and the scripts.
import { fileURLToPath } from 'node:url';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { svelteTesting } from '@testing-library/svelte/vite';
import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  // Relative asset URLs: the bundle is served by Tauri's custom protocol.
  base: './',
  plugins: [svelte(), svelteTesting()],
  clearScreen: false,
  // src-tauri/tauri.conf.json's devUrl.
  server: { port: 5173, strictPort: true },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // The polyfill is an inline script, which the app's CSP (script-src 'self') forbids.
    modulePreload: { polyfill: false },
    // WebKitGTK / WKWebView / WebView2 of the supported platforms all run ES2021.
    target: 'es2021',
  },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.ts'],
    setupFiles: ['src/test/setup.ts'],
    // Two cores shared with a Rust build: keep the test run light.
    pool: 'threads',
    poolOptions: { threads: { maxThreads: 1, minThreads: 1 } },
  },
});
