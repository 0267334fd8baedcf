import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ETCD, HA_SETUP, PATRONI, PG_BIN_DIR } from '../../src/ha/ha-layout.js';

/** The HA suite needs Debian's packages: without them it fails at once, saying how to get them. */
export default function setup(): void {
  const missing = [PATRONI, ETCD, join(PG_BIN_DIR, 'postgres'), join(PG_BIN_DIR, 'pg_rewind')].filter(
    (bin) => !existsSync(bin),
  );
  if (missing.length > 0) {
    throw new Error(`the HA suite needs ${missing.join(', ')}: ${HA_SETUP}`);
  }
}
