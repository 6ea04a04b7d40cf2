import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // PID-1 tests start real process trees; two cores, so keep the files to two at a time.
    maxWorkers: 2,
  },
});
