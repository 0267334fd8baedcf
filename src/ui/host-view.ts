import type { ManagerStatus__Output as ManagerStatus } from '../gen/hedge/v1/ManagerStatus.js';
import { textTable } from './text-table.js';

/** `hedge status`'s hosts: each agent, whether the manager hears it, and the replicas running there. */
export function formatHostTable(status: ManagerStatus): string {
  return textTable(
    ['host', 'agent', 'reachable', 'replicas'],
    status.hosts.map((h) => [h.name, h.address, h.reachable ? 'yes' : 'NO', h.replicas.join(' ') || '-']),
    [0, 1, 2, 3],
  );
}
