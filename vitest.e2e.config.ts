import { defineConfig } from 'vitest/config';
import { HOOK_MS, TEST_MS, UI_MS } from './tests/support/timing';

// Browser tests: a real production build served by the real server, driven through a real
// Chromium by playwright-core. One file at a time: each opens several browser contexts. Every
// bound scales with TEST_TIME_SCALE (tests/support/timing.ts).
export default defineConfig({
  test: {
    include: ['tests/e2e/**/*.test.ts'],
    environment: 'node',
    globalSetup: ['tests/e2e/global-setup.ts'],
    testTimeout: TEST_MS,
    hookTimeout: HOOK_MS,
    // expect.poll's own default (1 s) is tuned to an idle machine
    expect: { poll: { timeout: UI_MS } },
    fileParallelism: false,
    pool: 'forks',
  },
});
