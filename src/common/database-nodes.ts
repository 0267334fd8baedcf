/**
 * A PostgreSQL URL naming one server, or several in libpq's multi-host form
 * (`postgres://user:pw@h1:p1,h2:p2,h3:p3/db`): the nodes of a replicated
 * cluster, one of which is the primary at any moment. node-postgres takes one
 * host per URL (its parser rejects the list, and it has no
 * target_session_attrs; brianc/node-postgres#2781), so hedge splits the list
 * itself and finds the primary (see primary-pool.ts).
 */
export interface DatabaseNode {
  host: string;
  port: number;
  /** The URL with this node as its only host. */
  url: string;
}

const URL_PARTS = /^(postgres(?:ql)?:\/\/)([^@/?#]*@)?([^/?#]*)(.*)$/;

/** The nodes a URL names, in its order (one for an ordinary URL). */
export function databaseNodes(url: string): DatabaseNode[] {
  const parts = URL_PARTS.exec(url);
  if (!parts) return [nodeOf(url)];
  const [, scheme, userinfo = '', hosts = '', rest = ''] = parts;
  return hosts.split(',').map((host) => nodeOf(`${scheme}${userinfo}${host}${rest}`));
}

/** Whether the URL names more than one node. */
export function isMultiHost(url: string): boolean {
  return databaseNodes(url).length > 1;
}

/** The libpq multi-host URL of `nodes` (each node's URL differs only in its host). */
export function multiHostUrl(nodes: readonly { url: string }[]): string {
  const first = URL_PARTS.exec(nodes[0]?.url ?? '');
  if (!first) throw new Error('no database nodes');
  const [, scheme, userinfo = '', , rest = ''] = first;
  const hosts = nodes.map((n) => URL_PARTS.exec(n.url)?.[3] ?? '');
  return `${scheme}${userinfo}${hosts.join(',')}${rest}`;
}

function nodeOf(url: string): DatabaseNode {
  const parsed = new URL(url);
  return { host: parsed.hostname.replace(/^\[|\]$/g, ''), port: Number(parsed.port || 5432), url };
}

/** "host:port", as logs and `hedge status` name a node. */
export function nodeName(node: { host: string; port: number }): string {
  return node.host.includes(':') ? `[${node.host}]:${node.port}` : `${node.host}:${node.port}`;
}
