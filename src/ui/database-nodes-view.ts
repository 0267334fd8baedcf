import type { NodeRole } from '../common/primary-pool.js';
import { textTable } from './text-table.js';

/** `hedge status`'s table of a replicated database's nodes, each with the role it answers with. */
export function formatDatabaseNodes(nodes: { node: string; role: NodeRole }[]): string {
  return textTable(
    ['database node', 'role'],
    nodes.map((n) => [n.node, n.role === 'down' ? 'not answering' : n.role]),
    [0, 1],
  );
}
