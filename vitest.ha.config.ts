import { defineConfig } from 'vitest/config';

/**
 * The HA suite (`npm run test:ha`): real etcd, Patroni and PostgreSQL 15 from
 * Debian's packages (`npm run setup:ha`), really killed and stopped. Apart from
 * the main suite (`npm test` needs nothing but Node), one file at a time: each
 * test runs nine database processes besides hedge's own.
 */
export default defineConfig({
  test: {
    include: ['test-ha/**/*.test.ts'],
    globalSetup: ['test-ha/support/ha-global-setup.ts'],
    // mTLS on, as by default and as in the main suite.
    setupFiles: ['test/support/tls-setup.ts'],
    environment: 'node',
    env: { HEDGE_LOG_LEVEL: 'warn' },
    pool: 'forks',
    maxWorkers: 1,
    fileParallelism: false,
    testTimeout: 300_000,
    hookTimeout: 240_000,
    teardownTimeout: 120_000,
  },
});
