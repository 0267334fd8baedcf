import { status } from '@grpc/grpc-js';
import { DEDUP_STRATEGIES, type DedupStrategy } from '../common/dedup-strategy.js';
import { HedgeError, invalidArgument } from '../common/errors.js';
import { serverStream, unary } from '../common/grpc-handlers.js';
import type { Logger } from '../common/logger.js';
import type { HostAgentHandlers } from '../gen/hedge/v1/HostAgent.js';
import type { HostReplicas } from './host-replicas.js';

/** Signals the manager may send: ending, freezing and resuming a replica, nothing else. */
const SIGNALS = new Set<NodeJS.Signals>(['SIGKILL', 'SIGTERM', 'SIGCONT', 'SIGSTOP']);
/** A tick this often on every watch, so the manager tells a silent agent from a quiet one. */
export const TICK_MS = 250;
const SLOT_ID = /^[A-Za-z0-9_-]{1,64}$/;

export function agentHandlers(host: string, replicas: HostReplicas, log: Logger): HostAgentHandlers {
  return {
    StartReplica: unary(log, 'StartReplica', async (call) => {
      const r = call.request;
      if (!SLOT_ID.test(r.id))
        throw invalidArgument('BAD_REPLICA_ID', 'id must be 1-64 letters, digits, - or _', 'id');
      if (r.dedup !== '' && !DEDUP_STRATEGIES.includes(r.dedup as DedupStrategy))
        throw invalidArgument('BAD_DEDUP', `dedup must be one of ${DEDUP_STRATEGIES.join(', ')}`, 'dedup');
      try {
        return await replicas.start({
          id: r.id,
          dedup: r.dedup === '' ? undefined : (r.dedup as DedupStrategy),
          pool: r.pool === 0 ? undefined : r.pool,
          orderTtlMs: r.order_ttl_ms === 0 ? undefined : r.order_ttl_ms,
          feed: r.feed === '' ? undefined : r.feed,
          allowFaultInjection: r.allow_fault_injection,
        });
      } catch (err) {
        log.warn({ err, replica: r.id }, 'a replica failed to start');
        throw new HedgeError(
          status.UNAVAILABLE,
          'REPLICA_START_FAILED',
          `replica ${r.id} did not start on ${host}: ${(err as Error).message}`,
        );
      }
    }),
    SignalReplica: unary(log, 'SignalReplica', (call) => {
      const { id, pid, signal } = call.request;
      if (!SIGNALS.has(signal as NodeJS.Signals))
        throw invalidArgument('BAD_SIGNAL', `signal must be one of ${[...SIGNALS].join(', ')}`, 'signal');
      return { delivered: replicas.signal(id, pid, signal as NodeJS.Signals) };
    }),
    ListReplicas: unary(log, 'ListReplicas', () => ({ host, replicas: replicas.list() })),
    WatchReplicas: serverStream(log, 'WatchReplicas', (call) => {
      const unsubscribe = replicas.onChange((replica) => call.write({ changed: replica }));
      call.write({ snapshot: { host, replicas: replicas.list() } });
      const ticker = setInterval(() => call.write({ tick_at_ms: String(Date.now()) }), TICK_MS);
      const end = () => {
        clearInterval(ticker);
        unsubscribe();
      };
      call.on('cancelled', end);
      call.on('close', end);
      call.on('error', end);
    }),
  };
}
