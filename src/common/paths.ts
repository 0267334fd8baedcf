import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isAlive, signalQuietly } from './process-state.js';
import { descendantsOf } from './process-tree.js';

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
  const interrupted = removeOnInterrupt(dir);
  try {
    const result = await work(dir);
    interrupted.cancel();
    rmSync(dir, { recursive: true, force: true });
    return result;
  } catch (err) {
    interrupted.cancel();
    process.stderr.write(`the failed run's data directory, with its logs, is kept: ${dir}\n`);
    throw err;
  }
}

/** How long an interrupted run waits for the processes it killed before removing their directory. */
const INTERRUPT_WAIT_MS = 10_000;

/**
 * An interrupted run (SIGINT, SIGTERM) leaves no temporary directory behind: on
 * the way out, every process it started (its descendants: PostgreSQL, the
 * manager, the replicas) is SIGKILLed, and once they are gone, so that none
 * writes there again, `dir` is removed. Synchronous, so it runs from 'exit' too.
 */
function removeOnInterrupt(dir: string): { cancel(): void } {
  const onSignal = (signal: NodeJS.Signals) => process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
  const onExit = () => {
    const started = descendantsOf(process.pid);
    for (const pid of started) signalQuietly(pid, 'SIGKILL');
    const deadline = Date.now() + INTERRUPT_WAIT_MS;
    const pause = new Int32Array(new SharedArrayBuffer(4));
    while (started.some(isAlive) && Date.now() < deadline) Atomics.wait(pause, 0, 0, 20);
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('exit', onExit);
  return {
    cancel: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      process.off('exit', onExit);
    },
  };
}
