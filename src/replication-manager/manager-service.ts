import type { DatabaseWatch } from '../common/database-watch.js';
import { unary } from '../common/grpc-handlers.js';
import type { Logger } from '../common/logger.js';
import type { ReplicationManagerHandlers } from '../gen/hedge/v1/ReplicationManager.js';
import type { MembershipPublisher } from './membership.js';
import type { Supervisor, SupervisorOptions } from './supervisor.js';

export function managerHandlers(
  supervisor: Supervisor,
  membership: MembershipPublisher,
  database: Pick<DatabaseWatch, 'reachable'>,
  options: Pick<SupervisorOptions, 'replicas' | 'spares' | 'minimum'>,
  startedAtMs: number,
  log: Logger,
): ReplicationManagerHandlers {
  return {
    GetMembership: unary(log, 'GetMembership', async () => {
      await membership.opened;
      return membership.current();
    }),
    WatchMembership: (call) => membership.watch(call),
    ReportFault: unary(log, 'ReportFault', async (call) => {
      const { replica_id, address, code, message } = call.request;
      const confirmed = await supervisor.report(
        { id: replica_id, address },
        `status ${code}: ${message.slice(0, 200)}`,
      );
      return { confirmed };
    }),
    GetStatus: unary(log, 'GetStatus', () => ({
      view: String(membership.viewNumber),
      target: options.replicas,
      spares: options.spares,
      minimum: options.minimum,
      replicas: supervisor.status(),
      hosts: supervisor.launcher.hosts(),
      started_at_ms: String(startedAtMs),
      faults: String(supervisor.stats.faults),
      recoveries: String(supervisor.stats.recoveries),
      last_recovery_ms: String(supervisor.stats.lastRecoveryMs),
      database: database.reachable ? 'DATABASE_STATE_UP' : 'DATABASE_STATE_DOWN',
    })),
  };
}
