// Runs before every test file (vite.config.ts `test.setupFiles`).
import { clearMocks } from '@tauri-apps/api/mocks';
import { cleanup } from '@testing-library/svelte';
import { afterEach } from 'vitest';

afterEach(() => {
  // Unmount first: components stop listening through the mocked IPC.
  cleanup();
  clearMocks();
  window.location.hash = '';
});
