import pg from 'pg';
import { databaseNodes, isMultiHost, multiHostUrl } from './database-nodes.js';
import { createPrimaryPool } from './primary-pool.js';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

export interface PoolOptions {
  max?: number;
  /** Connections kept open however long idle (default none: idle ones close after 10 s). */
  min?: number;
  applicationName?: string;
  /** How long getting a connection may take (default 10 s). */
  connectionTimeoutMs?: number;
  /** How long a query may take, client side (default: no limit). */
  queryTimeoutMs?: number;
}

/**
 * A connection pool. Every session asks PostgreSQL to notice a vanished client
 * within 250 ms even mid-statement (client_connection_check_interval), so the
 * transaction of a replica killed while it waited on a lock is rolled back at
 * once instead of holding its request-id claim until the lock comes free.
 */
export function createPool(url: string, options: PoolOptions = {}): Pool {
  const config: pg.PoolConfig = {
    max: options.max ?? 10,
    min: options.min ?? 0,
    application_name: options.applicationName ?? 'hedge',
    options: '-c client_connection_check_interval=250',
    keepAlive: true,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 10_000,
    ...(options.queryTimeoutMs ? { query_timeout: options.queryTimeoutMs } : {}),
  };
  // Several nodes (libpq's multi-host URL): the pool follows whichever is the primary.
  const pool = isMultiHost(url)
    ? createPrimaryPool(url, config)
    : new pg.Pool({ ...config, connectionString: url });
  // An idle client whose server connection dropped emits here; the pool replaces it.
  pool.on('error', () => {});
  // A checked-out client (pool.connect()) whose connection drops emits 'error' on
  // itself as well as failing its queries, and nothing listens to a checked-out
  // client: unheard, that event killed a replica whenever PostgreSQL died while a
  // transaction or a periodic job held a connection. The queries' failure is what
  // callers handle; the event is only a second notice of it.
  pool.on('connect', (client) => {
    client.on('error', () => {});
  });
  return pool;
}

/** Replaces the database name in a connection URL. */
export function withDatabase(url: string, database: string): string {
  if (isMultiHost(url))
    return multiHostUrl(databaseNodes(url).map((n) => ({ url: withDatabase(n.url, database) })));
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(database)}`;
  return parsed.toString();
}

/**
 * SQLSTATEs after which the same statement can succeed: the server going away or coming back, contention,
 * and a write reaching a node that was demoted to standby (25006) while a new primary takes over.
 */
const TRANSIENT_SQLSTATE = /^(08...|57P0[1-3]|53300|40001|40P01|25006)$/;
const TRANSIENT_SOCKET = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);
/** What pg and pg-pool throw, without a code, when the connection is lost or cannot be had. */
const TRANSIENT_MESSAGE =
  /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error)/;

/** Whether a failure comes from the database being away or busy rather than from the request. */
export function isTransientDatabaseError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && (TRANSIENT_SQLSTATE.test(code) || TRANSIENT_SOCKET.has(code))) return true;
  return TRANSIENT_MESSAGE.test(err.message);
}
