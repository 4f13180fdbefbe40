import { defineConfig } from 'vitest/config';

// Unit and integration tests (the browser tests have vitest.e2e.config.ts). Integration tests run
// real servers, a real Kernel Gateway and real Yjs clients, so they get generous timeouts and run
// one file at a time on these 2-core machines.
export default defineConfig({
  test: {
    include: ['tests/unit/**/*.test.ts', 'tests/integration/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    fileParallelism: false,
    pool: 'forks',
  },
});
