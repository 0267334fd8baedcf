import { counter, gauge, histogram } from '../common/registered-metrics.js';
import type { ReplicaStatus } from '../gen/hedge/v1/ReplicaStatus.js';

/** What the gauges read when scraped: the manager's own state, nothing copied on each change. */
interface ManagerState {
  viewNumber(): number;
  replicas(): ReplicaStatus[];
}

let watched: ManagerState | undefined;

gauge({
  name: 'hedge_manager_view_number',
  help: 'The number of the membership view the manager publishes',
  collect() {
    if (watched) this.set(watched.viewNumber());
  },
});

gauge({
  name: 'hedge_manager_replicas',
  help: "The manager's replica slots by state (serving, starting, not_serving, faulty, backing_off, …)",
  labelNames: ['state'],
  collect() {
    if (!watched) return;
    this.reset();
    for (const r of watched.replicas()) {
      const state = String(r.state ?? 'unknown')
        .replace(/^REPLICA_STATE_/, '')
        .toLowerCase();
      this.inc({ state });
    }
  },
});

const detections = counter(
  'hedge_manager_faults_detected_total',
  'Replicas the manager judged faulty (and killed to replace), by cause',
  ['cause'],
);

const replacements = counter(
  'hedge_manager_replacements_total',
  'Replacements that came to serve and joined the view, by the cause of the fault they replaced',
  ['cause'],
);

const recovery = histogram(
  'hedge_manager_recovery_seconds',
  'From a fault detected to its replacement serving in the view',
  ['cause'],
  [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
);

export const managerMetrics = {
  watch(state: ManagerState): void {
    watched = state;
  },
  faultDetected(cause: string | undefined): void {
    detections.inc({ cause: cause ?? 'unknown' });
  },
  replaced(cause: string | undefined, recoveryMs: number): void {
    replacements.inc({ cause: cause ?? 'unknown' });
    recovery.observe({ cause: cause ?? 'unknown' }, recoveryMs / 1000);
  },
};
