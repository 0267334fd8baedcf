import { Metadata, type MethodDefinition, type ServiceError } from '@grpc/grpc-js';
import { isRetryable } from '../common/errors.js';
import { TIED_KEY } from '../common/tied-copies.js';
import { newTraceparent, TRACEPARENT_KEY } from '../common/trace-context.js';
import { type CallResult, ReplicatedCallError, runCall } from './call-engine.js';
import { FAILOVER_BUDGET_MS, SILENCE_BUDGET_MS } from './failover-budget.js';
import { MembershipWatcher, type ReplicaMember, type View } from './membership-watcher.js';
import { ReplicaChannels } from './replica-channels.js';
import type { ReplicationMode } from './replication-mode.js';
import { RESUMABLE_STREAM, type ReplicationPolicy, replicationPolicies } from './replication-policy.js';
import { type ResumableStream, streamAttempt } from './resumable-stream.js';
import { unaryBytes } from './unary-bytes.js';

export type { AttemptFailure, CallResult, CallTelemetry } from './call-engine.js';
export { ReplicatedCallError };

/** A unary method of a service every replica serves (hedge.v1.Trading, hedge.v1.DayTrading). */
// biome-ignore lint/suspicious/noExplicitAny: the request type is the caller's; grpc-js definitions are generic over it.
export type UnaryMethod<Res> = MethodDefinition<any, Res>;

export interface ReplicatedClientOptions {
  /** The replication manager, whose membership the client watches. */
  manager?: string;
  /** A fixed membership instead of a manager's. */
  replicas?: ReplicaMember[];
  mode: ReplicationMode;
  /** hedged: how many replicas each request goes to at first (default 2). */
  hedgeSize?: number;
  /**
   * hedged: send to the remaining replicas too when no answer came within this (default: never);
   * deferred: the delay before a second copy until the method's own p95 is known (default 20 ms).
   */
  hedgeDelayMs?: number;
  /** One deadline for a whole call, across every attempt (default 5 s). */
  deadlineMs?: number;
  /**
   * How long a whole call may go on instead while the replicas answer that the
   * database is unavailable (a fail-over under `hedge up --ha`), each attempt still
   * within deadlineMs (default FAILOVER_BUDGET_MS, 30 s; never less than deadlineMs).
   * When every replica's silence is the only sign, at most SILENCE_BUDGET_MS (20 s).
   */
  failoverBudgetMs?: number;
  /**
   * The deadline of one attempt on one replica. Passive: how long a silent primary
   * is waited for before failing over (default 1 s). Active and hedged already try
   * several replicas, so by default an attempt may use the whole call's deadline.
   * In every mode an attempt on a replica that leaves the view is failed over at once.
   */
  attemptTimeoutMs?: number;
  /** Tell the manager about infrastructure failures (default: when there is a manager). */
  reportFaults?: boolean;
}

/**
 * The replicated client: one channel per replica in the view, every call run by
 * the call engine under the mode's policy (replication-policy.ts) with one
 * request id (carried in the request message), the first final answer kept and
 * the rest cancelled if still unanswered shortly after (call-engine.ts).
 * Infrastructure failures are reported to the manager off the critical path and
 * retried on other replicas until the call's one deadline runs out.
 */
export class ReplicatedClient {
  private readonly replicas: ReplicaChannels;
  private readonly watcher: MembershipWatcher | undefined;
  readonly options: Required<
    Pick<ReplicatedClientOptions, 'mode' | 'deadlineMs' | 'failoverBudgetMs' | 'reportFaults'>
  >;
  /** The mode's policy, tuned by the options. */
  readonly policy: ReplicationPolicy;

  private constructor(options: ReplicatedClientOptions, watcher: MembershipWatcher | undefined, view: View) {
    this.options = {
      mode: options.mode,
      deadlineMs: options.deadlineMs ?? 5_000,
      failoverBudgetMs: options.failoverBudgetMs ?? FAILOVER_BUDGET_MS,
      reportFaults: options.reportFaults ?? watcher !== undefined,
    };
    this.policy = replicationPolicies(options)[options.mode];
    this.watcher = watcher;
    this.replicas = new ReplicaChannels(view, this.options.reportFaults ? watcher : undefined);
    watcher?.onChange((v) => this.replicas.applyView(v));
  }

  static async connect(options: ReplicatedClientOptions): Promise<ReplicatedClient> {
    if (options.manager) {
      const watcher = new MembershipWatcher(options.manager);
      try {
        return new ReplicatedClient(options, watcher, await watcher.start(options.deadlineMs ?? 5_000));
      } catch (err) {
        watcher.close();
        const code = (err as Partial<ServiceError>).code;
        if (code !== undefined && isRetryable(code)) {
          throw new Error(
            `no replication manager answers at ${options.manager}; is the system running? (start it with \`hedge up\`)`,
          );
        }
        throw err;
      }
    }
    if (!options.replicas?.length)
      throw new Error('a replicated client needs a manager address or a list of replicas');
    return new ReplicatedClient(options, undefined, { number: 0n, members: options.replicas });
  }

  get currentView(): View {
    return this.replicas.view;
  }

  /** Calls `listener` on every new view; returns the function that stops it. */
  onViewChange(listener: (view: View) => void): () => void {
    return this.replicas.onViewChange(listener);
  }

  /** Calls `listener` once when the client is closed; returns the function that stops it. */
  onClose(listener: () => void): () => void {
    return this.replicas.onClose(listener);
  }

  /**
   * Sends `request` (which carries its request id, if the method mutates) as one
   * logical call. Every attempt carries one W3C `traceparent`: the caller's, if
   * `metadata` has one, else a new one, so the replicas log and store one trace id.
   */
  async call<Res>(
    method: UnaryMethod<Res>,
    request: object,
    given: Metadata = new Metadata(),
  ): Promise<CallResult<Res>> {
    let metadata = given;
    if (given.get(TRACEPARENT_KEY).length === 0) {
      metadata = given.clone();
      metadata.set(TRACEPARENT_KEY, newTraceparent());
    }
    // Every copy carries the same bytes, encoded once; only the answer used is decoded
    // (the copies that lose are identical, and decoding them was a third of an active
    // client's protobuf work).
    let encoded: Buffer | undefined;
    const serialize = () => {
      encoded ??= method.requestSerialize(request);
      return encoded;
    };
    let tiedMetadata: Metadata | undefined;
    const marked = () => {
      if (!tiedMetadata) {
        tiedMetadata = metadata.clone();
        tiedMetadata.set(TIED_KEY, '1');
      }
      return tiedMetadata;
    };
    const result = await runCall<Buffer>(this.replicas, {
      policy: this.policy,
      method: method.path,
      mode: this.options.mode,
      deadlineMs: this.options.deadlineMs,
      failoverBudgetMs: this.options.failoverBudgetMs,
      silenceBudgetMs: SILENCE_BUDGET_MS,
      attempt: (channel, deadline, done, tied) => {
        let bytes: Buffer;
        try {
          bytes = serialize();
        } catch (err) {
          // A request the method cannot encode is the caller's error, not a replica's.
          done(err instanceof Error ? err : new Error(String(err)));
          return { cancel: () => {} };
        }
        return unaryBytes(channel, method.path, bytes, tied ? marked() : metadata, deadline, done);
      },
    });
    return { response: method.responseDeserialize(result.response), telemetry: result.telemetry };
  }

  /**
   * Reads a server stream from one replica at a time, whatever the mode, each
   * attempt resuming where the last one stopped (RESUMABLE_STREAM), within `deadlineMs`.
   */
  readStream<Chunk>(stream: ResumableStream<Chunk>, deadlineMs: number): Promise<CallResult<void>> {
    return runCall<void>(this.replicas, {
      policy: RESUMABLE_STREAM,
      method: stream.method.path,
      mode: this.options.mode,
      deadlineMs,
      attempt: streamAttempt(stream),
    });
  }

  get closed(): boolean {
    return this.replicas.closed;
  }

  /** Closes every channel; calls still running end with CANCELLED, new ones are refused. */
  close(): void {
    if (this.replicas.closed) return;
    this.watcher?.close();
    this.replicas.close();
  }
}
