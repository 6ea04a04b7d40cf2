// The real-engine tests (npm run test:docker, or .ci/run after the other suites): a
// Docker engine, images built from a debootstrap root (test/docker/run.sh sets that up).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/docker/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts', 'test/docker/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Two cores: two test files at a time, each with its containers.
    maxWorkers: 2,
  },
});
