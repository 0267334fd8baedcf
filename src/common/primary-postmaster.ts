import pg from 'pg';
import { databaseNodes, nodeName } from './database-nodes.js';
import { nodeRoles } from './primary-pool.js';
import { parentPid } from './process-state.js';

export interface PrimaryPostmaster {
  /** host:port of the node. */
  node: string;
  pid: number;
}

/**
 * The postmaster of the database's current primary: the node that answers it is
 * not in recovery, and the parent of the backend serving this connection. The
 * pid is only meaningful on the database's own host (`hedge up --ha` runs every
 * node on this one).
 */
export async function primaryPostmaster(url: string): Promise<PrimaryPostmaster> {
  const primary = (await nodeRoles(url)).find((n) => n.role === 'primary');
  const node = primary && databaseNodes(url).find((n) => nodeName(n) === primary.node);
  if (!node) throw new Error('no database node answers as primary');
  const client = new pg.Client({ connectionString: node.url, connectionTimeoutMillis: 2_000 });
  client.on('error', () => {});
  await client.connect();
  try {
    const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const pid = parentPid(Number(rows[0]?.pid));
    if (pid === undefined) throw new Error(`the primary ${nodeName(node)} does not run on this host`);
    return { node: nodeName(node), pid };
  } finally {
    await client.end().catch(() => {});
  }
}
