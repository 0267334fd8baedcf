import { createServer, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createPool, isTransientDatabaseError, withDatabase } from '../src/common/database.js';
import { databaseNodes, isMultiHost, multiHostUrl } from '../src/common/database-nodes.js';
import { nodeRoles } from '../src/common/primary-pool.js';
import { useTestDatabase } from './support/database.js';

/** A loopback port nothing listens on (it was free a moment ago). */
async function deadPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** The URL with its host list replaced. */
function withHosts(url: string, hosts: string[]): string {
  const node = databaseNodes(url)[0] as { host: string; port: number };
  return url.replace(`${node.host}:${node.port}`, hosts.join(','));
}

describe('a multi-host database URL (libpq form), as `hedge up --ha` gives replicas', () => {
  const db = useTestDatabase();

  it('is split into its nodes and put back together; withDatabase changes every node', () => {
    const url = 'postgres://u:p%40ss@10.0.0.1:5001,10.0.0.2:5002,10.0.0.3/hedge?sslmode=disable';
    const nodes = databaseNodes(url);
    expect(nodes.map((n) => `${n.host}:${n.port}`)).toEqual([
      '10.0.0.1:5001',
      '10.0.0.2:5002',
      '10.0.0.3:5432',
    ]);
    expect(nodes[1]?.url).toBe('postgres://u:p%40ss@10.0.0.2:5002/hedge?sslmode=disable');
    expect(isMultiHost(url)).toBe(true);
    expect(isMultiHost(nodes[0]?.url ?? '')).toBe(false);
    expect(multiHostUrl(nodes)).toBe(url);
    expect(databaseNodes(withDatabase(url, 'other')).map((n) => new URL(n.url).pathname)).toEqual([
      '/other',
      '/other',
      '/other',
    ]);
  });

  it('a pool finds the node that is primary among nodes that do not answer, and status says which is which', async () => {
    const live = databaseNodes(db.url)[0] as { host: string; port: number };
    const dead = await deadPort();
    const url = withHosts(db.url, [`127.0.0.1:${dead}`, `${live.host}:${live.port}`]);
    const pool = createPool(url, { max: 2 });
    try {
      const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM schema_migrations');
      expect(rows[0]?.n).toBeGreaterThan(0);
    } finally {
      await pool.end();
    }
    expect(await nodeRoles(url)).toEqual([
      { node: `127.0.0.1:${dead}`, role: 'down' },
      { node: `${live.host}:${live.port}`, role: 'primary' },
    ]);
  });

  it("a fresh pool's first query waits for a silent node's first probe to time out, then runs on the primary", async () => {
    // A node that accepts and never answers (its host cut off after the handshake): its first
    // probe takes its whole timeout, longer than a connection waits for a known primary.
    const held = new Set<Socket>();
    const silent = createServer((socket) => held.add(socket)).listen(0, '127.0.0.1');
    await new Promise((resolve) => silent.once('listening', resolve));
    const { port } = silent.address() as { port: number };
    const live = databaseNodes(db.url)[0] as { host: string; port: number };
    const pool = createPool(withHosts(db.url, [`127.0.0.1:${port}`, `${live.host}:${live.port}`]), {
      max: 1,
    });
    try {
      const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM schema_migrations');
      expect(rows[0]?.n).toBeGreaterThan(0);
    } finally {
      await pool.end();
      for (const socket of held) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('with no primary, getting a connection fails with a transient error (a replica answers UNAVAILABLE)', async () => {
    const url = withHosts(db.url, [`127.0.0.1:${await deadPort()}`, `127.0.0.1:${await deadPort()}`]);
    const pool = createPool(url, { max: 1 });
    try {
      const err = await pool.query('SELECT 1').then(
        () => undefined,
        (e: unknown) => e,
      );
      expect((err as Error).message).toMatch(/no primary among the database nodes/);
      expect(isTransientDatabaseError(err)).toBe(true);
    } finally {
      await pool.end();
    }
  });

  it('two nodes both claiming to be primary, neither of them already followed: no primary until one steps down', async () => {
    const live = databaseNodes(db.url)[0] as { host: string; port: number };
    // The same server under two names: both answer that they are not in recovery.
    const url = withHosts(db.url, [`${live.host}:${live.port}`, `127.1:${live.port}`]);
    const pool = createPool(url, { max: 1 });
    try {
      const err = await pool.query('SELECT 1').then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isTransientDatabaseError(err)).toBe(true);
    } finally {
      await pool.end();
    }
  });
});
