import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // A Docker engine of their own: npm run test:docker (test/docker/vitest.config.mts).
    exclude: ['test/docker/**', '**/node_modules/**'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // PID-1 tests start real process trees; two cores, so keep the files to two at a time.
    maxWorkers: 2,
  },
});
