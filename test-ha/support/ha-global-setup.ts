import { existsSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { ETCD, HA_SETUP, PATRONI, PG_BIN_DIR } from '../../src/ha/ha-layout.js';
import { makeTestTlsDir } from '../../test/support/tls.js';

/**
 * The HA suite needs Debian's packages: without them it fails at once, saying how
 * to get them. Like the main suite, it runs with mutual TLS on: one CA for the run.
 */
export default function setup(project: TestProject): () => void {
  const missing = [PATRONI, ETCD, join(PG_BIN_DIR, 'postgres'), join(PG_BIN_DIR, 'pg_rewind')].filter(
    (bin) => !existsSync(bin),
  );
  if (missing.length > 0) {
    throw new Error(`the HA suite needs ${missing.join(', ')}: ${HA_SETUP}`);
  }
  const tlsDir = makeTestTlsDir();
  project.provide('tlsDir', tlsDir);
  return () => rmSync(dirname(tlsDir), { recursive: true, force: true });
}
