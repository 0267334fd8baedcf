import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    // mTLS on, as by default: every test file's process presents the run's certificate.
    setupFiles: ['test/support/tls-setup.ts'],
    environment: 'node',
    // Logs of in-process servers and child processes: warnings and errors only.
    env: { HEDGE_LOG_LEVEL: 'warn' },
    pool: 'forks',
    // Two cores: integration tests start real processes, so more workers only add contention.
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    teardownTimeout: 30_000,
  },
});
