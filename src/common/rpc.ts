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
 * Every client channel to a hedge process (replica, manager, feed): keepalive
 * notices a frozen or vanished peer (a stream has no deadline; the servers permit
 * pings without calls, see grpc-server.ts), and a replaced replica or a restarted
 * feed or manager should not be redialled slowly. Message sizes stay grpc-js's
 * defaults (4 MiB), which the servers also set. Reconnecting a stream is
 * watch-stream.ts's; this back-off is only the channel's redial.
 */
export const PEER_CHANNEL_OPTIONS: ChannelOptions = {
  'grpc.keepalive_time_ms': 10_000,
  'grpc.keepalive_timeout_ms': 2_000,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 1_000,
};

/**
 * The manager's heartbeat channel to a replica. The one difference: the first
 * redial comes after 50 ms, within one heartbeat interval (100 ms by default), so
 * that a channel waiting to redial does not itself cost a heartbeat.
 */
export const HEARTBEAT_CHANNEL_OPTIONS: ChannelOptions = {
  ...PEER_CHANNEL_OPTIONS,
  'grpc.initial_reconnect_backoff_ms': 50,
};
