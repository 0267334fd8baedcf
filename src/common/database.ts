import pg from 'pg';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

export interface PoolOptions {
  max?: number;
  applicationName?: string;
}

/**
 * A connection pool. Every session asks PostgreSQL to notice a vanished client
 * within 250 ms even mid-statement (client_connection_check_interval), so the
 * transaction of a replica killed while it waited on a lock is rolled back at
 * once instead of holding its request-id claim until the lock comes free.
 */
export function createPool(url: string, options: PoolOptions = {}): Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 10,
    application_name: options.applicationName ?? 'hedge',
    options: '-c client_connection_check_interval=250',
    keepAlive: true,
    connectionTimeoutMillis: 10_000,
  });
  // An idle client whose server connection dropped emits here; the pool replaces it.
  pool.on('error', () => {});
  return pool;
}

/** Replaces the database name in a connection URL. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(database)}`;
  return parsed.toString();
}
