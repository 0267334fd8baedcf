/**
 * What every hedge gRPC server accepts (README, "Limits"). A larger message is
 * refused with RESOURCE_EXHAUSTED by grpc-js before any handler sees it. Streams
 * beyond the concurrent limit on one connection wait in the client's HTTP/2
 * queue (SETTINGS_MAX_CONCURRENT_STREAMS), so one connection cannot hold an
 * unbounded share of a server.
 */
export const SERVER_LIMITS = {
  maxMessageBytes: 4 * 1024 * 1024,
  maxConcurrentStreams: 256,
} as const;
