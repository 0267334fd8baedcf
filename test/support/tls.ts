import { join } from 'node:path';
import { makeTempDataDir } from '../../src/common/paths.js';
import { ROLES } from '../../src/tls/certificates.js';
import { ensureTlsDir, type Identity, loadIdentity } from '../../src/tls/tls-dir.js';

/**
 * The test run's TLS directory, made as `hedge up` makes one. Every process a
 * test starts finds it through HEDGE_TLS_DIR (tls-setup.ts sets it), so all of
 * them trust one CA, whatever data directory each test gives them.
 */
export function makeTestTlsDir(): string {
  const dir = join(makeTempDataDir('hedge-test-tls-'), 'tls');
  ensureTlsDir(dir);
  testIdentity(dir);
  return dir;
}

/**
 * What a test file's own process presents: every role, since one test process
 * plays the client, the operator and the injector, and serves in-process feeds
 * and replicas. Tests of the roles present single-role certificates instead.
 */
export function testIdentity(dir: string): Identity {
  return loadIdentity(dir, ROLES);
}
