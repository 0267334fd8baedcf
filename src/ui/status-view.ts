import type { ManagerStatus__Output as ManagerStatus } from '../gen/hedge/v1/ManagerStatus.js';
import { formatUptime, textTable } from './text-table.js';

const STATE = {
  REPLICA_STATE_UNSPECIFIED: '?',
  REPLICA_STATE_STARTING: 'starting',
  REPLICA_STATE_SERVING: 'serving',
  REPLICA_STATE_FAULTY: 'faulty',
  REPLICA_STATE_BACKING_OFF: 'backing off',
  REPLICA_STATE_NOT_SERVING: 'not serving (no database)',
  REPLICA_STATE_SPARE: 'warm spare',
  REPLICA_STATE_DRAINING: 'draining (rejuvenated)',
} as const;

const DATABASE = {
  DATABASE_STATE_UNSPECIFIED: '?',
  DATABASE_STATE_UP: 'up',
  DATABASE_STATE_DOWN: 'down',
} as const;

export function stateName(state: keyof typeof STATE): string {
  return STATE[state] ?? state;
}

/** The replica table of `hedge status` and of `hedge up`'s live view. */
export function formatReplicaTable(status: ManagerStatus, now = Date.now()): string {
  return textTable(
    ['id', 'pid', 'address', 'state', 'uptime', 'restarts', 'last fault', 'cause'],
    status.replicas.map((r) => {
      const faultAt = Number(r.last_fault_at_ms);
      return [
        r.id,
        r.pid || '-',
        r.address || '-',
        stateName(r.state),
        r.state === 'REPLICA_STATE_SERVING' || r.state === 'REPLICA_STATE_SPARE'
          ? formatUptime(now - Number(r.started_at_ms))
          : '-',
        r.restarts,
        r.last_fault ? `${formatUptime(now - faultAt)} ago: ${r.last_fault}` : '-',
        r.last_fault_cause || '-',
      ];
    }),
    [0, 2, 3, 6, 7],
  );
}

export function servingCount(status: ManagerStatus): number {
  return status.replicas.filter((r) => r.state === 'REPLICA_STATE_SERVING').length;
}

export function spareCount(status: ManagerStatus): number {
  return status.replicas.filter((r) => r.state === 'REPLICA_STATE_SPARE').length;
}

/** One line: how many serve, the warm spares, the database, the view, and the latest fail-over. */
export function formatSummary(status: ManagerStatus, now = Date.now()): string {
  const latest = [...status.replicas]
    .filter((r) => r.last_fault)
    .sort((a, b) => Number(b.last_fault_at_ms) - Number(a.last_fault_at_ms))[0];
  const failover = latest
    ? `last fail-over: ${latest.id} ${latest.last_fault_cause} ${formatUptime(now - Number(latest.last_fault_at_ms))} ago` +
      (Number(status.last_recovery_ms) > 0 ? `, replaced in ${status.last_recovery_ms} ms` : '')
    : 'no fail-over yet';
  return (
    `${servingCount(status)}/${status.target} replicas serving · database ${DATABASE[status.database] ?? '?'} · ` +
    `${spareCount(status)}/${status.spares} warm spares · view ${status.view} · ${failover}`
  );
}
