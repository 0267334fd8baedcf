import type { status } from '@grpc/grpc-js';
import type { Counter, Histogram } from 'prom-client';
import { codeLabel, LATENCY_BUCKETS } from './metrics.js';
import { counter, histogram } from './registered-metrics.js';

const LABELS = ['grpc_service', 'grpc_method', 'grpc_code'] as const;

const handled = counter(
  'hedge_grpc_server_handled_total',
  'RPCs this server completed, by service, method and status code',
  LABELS,
);

/** Buckets from 1 ms (a read) to 10 s (a call waiting out a restarting database). */
const handling = histogram(
  'hedge_grpc_server_handling_seconds',
  'Time from an RPC arriving to its answer (for a stream: to its end), by service, method and status code',
  LABELS,
  LATENCY_BUCKETS,
);

interface Children {
  handled: Counter.Internal;
  handling: Histogram.Internal<(typeof LABELS)[number]>;
}

/** Label children by "path code", bound once: the hot path is a map lookup and two increments. */
const children = new Map<string, Children>();

function childrenFor(path: string, code: status): Children {
  const key = `${path} ${code}`;
  let c = children.get(key);
  if (!c) {
    // /hedge.v1.Trading/Buy
    const slash = path.lastIndexOf('/');
    const labels = {
      grpc_service: path.slice(1, slash),
      grpc_method: path.slice(slash + 1),
      grpc_code: codeLabel(code),
    };
    c = { handled: handled.labels(labels), handling: handling.labels(labels) };
    children.set(key, c);
  }
  return c;
}

/** Counts one finished RPC: `startedNs` is process.hrtime.bigint() when it arrived. */
export function observeServerCall(path: string, code: status, startedNs: bigint): void {
  const c = childrenFor(path, code);
  c.handled.inc();
  c.handling.observe(Number(process.hrtime.bigint() - startedNs) / 1e9);
}
