import { defineConfig } from 'vitest/config';

// Browser tests: a real production build served by the real server, driven through a real
// Chromium by playwright-core. One file at a time: each opens several browser contexts.
export default defineConfig({
  test: {
    include: ['tests/e2e/**/*.test.ts'],
    environment: 'node',
    globalSetup: ['tests/e2e/global-setup.ts'],
    testTimeout: 90_000,
    hookTimeout: 240_000,
    fileParallelism: false,
    pool: 'forks',
  },
});
