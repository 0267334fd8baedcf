import type { status } from '@grpc/grpc-js';
import type { Counter, Histogram } from 'prom-client';
import { codeLabel, LATENCY_BUCKETS } from '../common/metrics.js';
import { counter, histogram } from '../common/registered-metrics.js';

/**
 * The replicated client's figures, per replica, in the process's registry
 * (src/common/metrics.ts), which `hedge bench`, `workload` and `trade` serve
 * with --metrics-port. The call engine makes one call here per event; the
 * label children are bound once per replica, so an event is a map lookup and
 * an increment.
 */
const wins = counter(
  'hedge_client_replica_wins_total',
  'Calls whose answer came from this replica (the first final answer, the one the caller got)',
  ['replica'],
);
const losses = counter(
  'hedge_client_replica_losses_total',
  "Copies of a call still unanswered on this replica when another replica's answer settled it",
  ['replica'],
);
const failures = counter(
  'hedge_client_replica_failures_total',
  'Attempts this replica failed (unavailable, deadline, overloaded, left the view), by status code',
  ['replica', 'grpc_code'],
);
const failovers = counter(
  'hedge_client_failovers_total',
  'Attempts sent to another replica at once because this one failed (passive and hedged modes)',
  ['replica'],
);
const calls = histogram(
  'hedge_client_call_seconds',
  'Logical calls (all attempts on all replicas together), by method and final status code',
  ['grpc_method', 'grpc_code'],
  LATENCY_BUCKETS,
);

interface ReplicaChildren {
  win: Counter.Internal;
  loss: Counter.Internal;
  failover: Counter.Internal;
  failures: Map<status, Counter.Internal>;
}

const byReplica = new Map<string, ReplicaChildren>();
const byCall = new Map<string, Histogram.Internal<'grpc_method' | 'grpc_code'>>();

function replica(id: string): ReplicaChildren {
  let c = byReplica.get(id);
  if (!c) {
    c = {
      win: wins.labels(id),
      loss: losses.labels(id),
      failover: failovers.labels(id),
      failures: new Map(),
    };
    byReplica.set(id, c);
  }
  return c;
}

export const clientMetrics = {
  win(replicaId: string): void {
    replica(replicaId).win.inc();
  },
  loss(replicaId: string): void {
    replica(replicaId).loss.inc();
  },
  failure(replicaId: string, code: status): void {
    const c = replica(replicaId);
    let child = c.failures.get(code);
    if (!child) {
      child = failures.labels(replicaId, codeLabel(code));
      c.failures.set(code, child);
    }
    child.inc();
  },
  failover(fromReplicaId: string): void {
    replica(fromReplicaId).failover.inc();
  },
  /** `path`: /hedge.v1.Trading/Buy; the label is the method's name, as the server's. */
  call(path: string, code: status, seconds: number): void {
    const key = `${path} ${code}`;
    let child = byCall.get(key);
    if (!child) {
      child = calls.labels(path.slice(path.lastIndexOf('/') + 1), codeLabel(code));
      byCall.set(key, child);
    }
    child.observe(seconds);
  },
};
