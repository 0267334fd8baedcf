import { defineConfig } from 'vitest/config';

/**
 * Tests across simulated hosts (network namespaces): they need root, and fail at
 * once (never skip) without it. `npm run test:hosts`.
 */
export default defineConfig({
  test: {
    include: ['test-hosts/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts', 'test-hosts/require-root.ts'],
    // Plaintext: see insecure-setup.ts (mTLS across the simulated hosts is not wired yet).
    setupFiles: ['test-hosts/insecure-setup.ts'],
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
