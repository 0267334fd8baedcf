import {
  type ClientReadableStream,
  type Metadata,
  type MethodDefinition,
  type StatusObject,
  status,
} from '@grpc/grpc-js';
import type { Attempt } from './call-engine.js';

/** A server-streaming method of a service every replica serves. */
// biome-ignore lint/suspicious/noExplicitAny: the request type is the caller's; grpc-js definitions are generic over it.
export type ServerStreamMethod<Chunk> = MethodDefinition<any, Chunk>;

/**
 * How long an attempt may go without a chunk before its replica counts as silent
 * and the next one resumes: longer than a replica's wait for the audit log's open
 * writers (5 s) plus a chunk's query, far shorter than the stream's deadline.
 */
export const STREAM_IDLE_MS = 15_000;

/** A server stream that a replica can take up where another one stopped (DUMPLOG's StreamLog). */
export interface ResumableStream<Chunk> {
  method: ServerStreamMethod<Chunk>;
  /** Each attempt's request: one that resumes after `last`, the last chunk received (none at first). */
  request: (last: Chunk | undefined) => object;
  metadata: Metadata;
  /** Takes each chunk, in order, across attempts; what it throws ends the call with that. */
  take: (chunk: Chunk) => void | Promise<void>;
  /** Whether a chunk ends the stream, so that a replica failing after it is not asked to resume. */
  isLast: (chunk: Chunk) => boolean;
  /** How long an attempt may go without a chunk (default STREAM_IDLE_MS). */
  idleMs?: number;
}

/**
 * The call engine's attempt for a resumable stream: it opens the stream on the
 * channel it is given and reports success once the stream ended whole (or its
 * last chunk came), a failure otherwise, each only after every chunk was taken.
 * Like grpc-js, which commits a streaming call to the attempt that sent a
 * message; here the next attempt continues it instead. An attempt that gets no
 * chunk for `idleMs` is cancelled and fails DEADLINE_EXCEEDED, as a silent
 * replica's unary attempt does: a replica cut off mid-stream does not hold the
 * stream until its deadline.
 */
export function streamAttempt<Chunk>(stream: ResumableStream<Chunk>): Attempt<void> {
  // One chain across attempts: a failed-over attempt's chunks are taken before the next one's.
  let taking = Promise.resolve();
  let complete = false;
  let last: Chunk | undefined;
  const idleMs = stream.idleMs ?? STREAM_IDLE_MS;
  return (channel, deadline, done) => {
    let cancelled = false;
    let idle: NodeJS.Timeout | undefined;
    let silent = false;
    const { method } = stream;
    const call: ClientReadableStream<Chunk> = channel.makeServerStreamRequest(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      stream.request(last),
      stream.metadata,
      { deadline },
    );
    const quiet = () => {
      clearTimeout(idle);
      idle = setTimeout(() => {
        silent = true;
        call.cancel();
      }, idleMs);
    };
    quiet();
    call.on('data', (chunk: Chunk) => {
      if (cancelled) return;
      quiet();
      last = chunk;
      taking = taking.then(() => stream.take(chunk));
      // Its failure is reported with the stream's status, which may come later: not an unhandled rejection.
      taking.catch(() => {});
      if (stream.isLast(chunk)) complete = true;
    });
    // 'end' comes for a failed stream too, and 'error' with the status: only the status tells a whole stream from a broken one.
    call.on('error', () => {});
    call.on('status', (s: StatusObject) => {
      clearTimeout(idle);
      if (s.code === status.OK) complete = true;
      const failure = silent
        ? { code: status.DEADLINE_EXCEEDED, details: `no chunk from the replica for ${idleMs} ms` }
        : s;
      taking.then(
        () => done(complete ? null : failure),
        (err: Error) => done(err),
      );
    });
    return {
      cancel: () => {
        cancelled = true;
        clearTimeout(idle);
        call.cancel();
      },
    };
  };
}
