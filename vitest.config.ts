import { defineConfig } from 'vitest/config';
import { HOOK_MS, TEST_MS, UI_MS } from './tests/support/timing';

// Unit and integration tests (the browser tests have vitest.e2e.config.ts). Integration tests run
// real servers, a real Kernel Gateway and real Yjs clients, so they get generous timeouts and run
// one file at a time on these 2-core machines. Every bound scales with TEST_TIME_SCALE
// (tests/support/timing.ts).
export default defineConfig({
  test: {
    include: ['tests/unit/**/*.test.ts', 'tests/integration/**/*.test.ts'],
    testTimeout: TEST_MS,
    hookTimeout: HOOK_MS,
    // expect.poll's own default (1 s) is tuned to an idle machine
    expect: { poll: { timeout: UI_MS } },
    fileParallelism: false,
    pool: 'forks',
  },
});
