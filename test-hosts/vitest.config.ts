import { defineConfig } from 'vitest/config';

/**
 * Tests across simulated hosts (network namespaces): they need root, and fail at
 * once (never skip) without it. `npm run test:hosts`.
 */
export default defineConfig({
  test: {
    include: ['test-hosts/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts', 'test-hosts/require-root.ts'],
    // mTLS on, as on real hosts: each simulated host gets certificates naming its address (support/multi-host.ts).
    setupFiles: ['test/support/tls-setup.ts'],
    environment: 'node',
    env: { HEDGE_LOG_LEVEL: 'warn' },
    pool: 'forks',
    // Each file builds its own network and cluster: one at a time on a two-core machine.
    maxWorkers: 1,
    testTimeout: 180_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
  },
});
