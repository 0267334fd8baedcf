import type { ChannelOptions, ClientUnaryCall, requestCallback } from '@grpc/grpc-js';

/**
 * A unary call as a promise. `start` makes the call with the callback it is given,
 * e.g. `invoke<Portfolio__Output>((cb) => client.GetPortfolio({}, md, { deadline }, cb))`,
 * so the call's own overloads type-check request, metadata and options.
 */
export function invoke<Res>(start: (callback: requestCallback<Res>) => ClientUnaryCall): Promise<Res> {
  return new Promise((resolve, reject) => {
    start((err, response) => (err ? reject(err) : resolve(response as Res)));
  });
}

export function deadlineAfter(ms: number): Date {
  return new Date(Date.now() + ms);
}

/**
 * A client's long-lived channel to a replica or the manager: keepalive notices a
 * frozen or vanished peer (a stream has no deadline), and a replaced replica,
 * back on a new address, should not be redialled slowly.
 */
export const PEER_CHANNEL_OPTIONS: ChannelOptions = {
  'grpc.keepalive_time_ms': 10_000,
  'grpc.keepalive_timeout_ms': 2_000,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 1_000,
};
