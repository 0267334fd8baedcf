import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package's own root: proto/, migrations/ and sql/ live there, dist/ or src/ below it. */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const PROTO_DIR = resolve(PACKAGE_ROOT, 'proto');
export const MIGRATIONS_DIR = resolve(PACKAGE_ROOT, 'migrations');
/** The SQL functions, one file per area, applied after the migrations. */
export const SQL_DIR = resolve(PACKAGE_ROOT, 'sql');
/** The compiled CLI, which every hedge process is started from. */
export const CLI_PATH = resolve(PACKAGE_ROOT, 'dist/cli.js');

/** A feed's key pair, under <data-dir>/<name>/ (name 'feed' unless several feeds share the data directory). */
export function feedKeyPaths(dataDir: string, name = 'feed'): { privateKey: string; publicKey: string } {
  return {
    privateKey: resolve(dataDir, name, 'private.pem'),
    publicKey: resolve(dataDir, name, 'public.pem'),
  };
}

/** The public keys of the feeds replicas trust by default: each feed of this data directory adds its own. */
export function trustedFeedKeysDir(dataDir: string): string {
  return resolve(dataDir, 'feed-keys');
}

/**
 * A new temporary data directory. mkdtemp makes it 0700; as root the embedded
 * PostgreSQL runs as the postgres user, which must be able to enter it.
 */
export function makeTempDataDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o755);
  return dir;
}

/**
 * Runs `work` in the data directory `given`, or in a new temporary one that is
 * removed once `work` has succeeded (its processes stopped): a benchmark's
 * database is gigabytes. After a failure it is kept, for the logs inside.
 */
export async function inDataDir<T>(
  prefix: string,
  given: string | undefined,
  work: (dataDir: string) => Promise<T>,
): Promise<T> {
  if (given) return work(given);
  const dir = makeTempDataDir(prefix);
  try {
    const result = await work(dir);
    rmSync(dir, { recursive: true, force: true });
    return result;
  } catch (err) {
    process.stderr.write(`the failed run's data directory, with its logs, is kept: ${dir}\n`);
    throw err;
  }
}
