import { type Client, type Metadata, status } from '@grpc/grpc-js';
import { BACKOFF, backoffDelay } from '../common/backoff.js';
import { reasonOf } from '../common/errors.js';
import { isTiedLoss } from '../common/tied-copies.js';
import { clientMetrics } from './client-metrics.js';
import { type DatabaseOutageMemory, isDatabaseUnavailable } from './failover-budget.js';
import type { ReplicaMember, View } from './membership-watcher.js';
import type { ReplicationMode } from './replication-mode.js';
import type { ReplicationPolicy } from './replication-policy.js';
import type { SilentReplicas } from './silent-replicas.js';

export interface AttemptFailure {
  replica: string;
  code: status;
  atMs: number;
}

/** What one logical call took: which replica answered, how many attempts, what failed. */
export interface CallTelemetry {
  /** The method's path, e.g. /hedge.v1.Trading/Buy. */
  method: string;
  mode: ReplicationMode;
  view: string;
  /** Epoch milliseconds. */
  startMs: number;
  endMs: number;
  latencyMs: number;
  /** The replica whose answer was used. */
  answeredBy?: string;
  /** RPCs sent, to all replicas together. */
  attempts: number;
  failures: AttemptFailure[];
  code: status;
}

export interface CallResult<Res> {
  response: Res;
  telemetry: CallTelemetry;
}

/**
 * A call's final failure, the client's one error: the application's answer
 * (identical on every replica, with the server's reason), a failure every
 * replica repeated, the deadline running out, or the client closing.
 */
export class ReplicatedCallError extends Error {
  constructor(
    readonly code: status,
    readonly reason: string | undefined,
    readonly details: string,
    readonly telemetry: CallTelemetry,
  ) {
    super(details);
    this.name = 'ReplicatedCallError';
  }
}

/** How an attempt failed on the wire; a grpc-js ServiceError is one. */
export interface WireFailure {
  code: status;
  details: string;
  metadata?: Metadata;
}

/**
 * Starts one attempt on one replica's channel, with the attempt's deadline, and
 * calls `done` once: with null and the value, with a WireFailure, or with any
 * other error, which ends the call as it is (a failure of the caller's own, such
 * as a stream's sink). `tied`: the attempt is one of the call's tied copies
 * (src/common/tied-copies.ts) and carries the mark. Returns what cancels the attempt.
 */
export type Attempt<T> = (
  channel: Client,
  deadline: Date,
  done: (err: WireFailure | Error | null, value?: T) => void,
  tied: boolean,
) => { cancel(): void };

/** What the engine needs of the replicas; the replicated client's channels (replica-channels.ts) give it. */
export interface ReplicaSet {
  readonly closed: boolean;
  readonly view: View;
  /** The view's members in order of preference; from the next start each time when `rotate`. */
  candidates(rotate: boolean): ReplicaMember[];
  channelFor(member: ReplicaMember): Client;
  inView(member: ReplicaMember): boolean;
  /** Tells the manager, off the critical path. */
  reportFault(member: ReplicaMember, code: status, details: string): void;
  onViewChange(listener: (view: View) => void): () => void;
  onClose(listener: () => void): () => void;
  /** When a replica last answered that the database is away, to any call of this client. */
  readonly databaseOutage: DatabaseOutageMemory;
  /** The replicas this client's attempts timed out on lately, until they answer or the view changes. */
  readonly silentReplicas: SilentReplicas;
}

export interface CallSpec<T> {
  policy: ReplicationPolicy;
  /** For the telemetry: the method's path and the client's mode. */
  method: string;
  mode: ReplicationMode;
  /** One deadline for the whole call, across every attempt; also the longest one attempt may take. */
  deadlineMs: number;
  /**
   * How long the whole call may go on instead, if the database is failing over: the
   * replicas answered DATABASE_UNAVAILABLE to this call, or to another call of the
   * client within this time; replicas left the view during the call; or every
   * replica of the view timed out on it (undefined: never past deadlineMs).
   */
  failoverBudgetMs?: number;
  /** The budget instead when every replica's silence is the only sign (at most failoverBudgetMs; undefined: the same). */
  silenceBudgetMs?: number;
  attempt: Attempt<T>;
}

/**
 * Runs one logical call under a policy: unary calls and resumable streams alike
 * (a stream's attempt resumes where the last one stopped; the engine only picks
 * the replica). Like grpc-js's RetryingCall: attempts go out as the policy says,
 * the first final outcome settles the call, and the failures the policy fails
 * over are asked of other replicas until the one deadline.
 */
export function runCall<T>(replicas: ReplicaSet, spec: CallSpec<T>): Promise<CallResult<T>> {
  return new CallExecution(replicas, spec).run();
}

/**
 * The other copies of an answered call are cancelled only if still unanswered
 * this long after. By the time the first answer arrives the others are normally
 * in the database waiting on the request's claim and answer within milliseconds;
 * cancelling them at once costs an RST_STREAM and an error on both sides for no
 * saved work (measured: 410–500 vs 600 trades/s in active mode), while a copy
 * stuck on a hung or slow replica is still cancelled.
 */
const LOSER_GRACE_MS = 100;

/**
 * After a copy lost tied, how long the client waits for the sibling that holds the
 * request before asking one replica again untied. The holder normally answers within
 * milliseconds; one cut off by a partition (or frozen) after committing never does,
 * and its attempt would otherwise hold the call until the deadline while the answer
 * sits in the database. An untied copy waits on the claim, or reads the stored answer.
 */
const TIED_REASK_MS = 500;

interface InFlight {
  member: ReplicaMember;
  call: { cancel(): void };
}

/** One logical call: its attempts, their outcomes, and the decision when to answer. */
class CallExecution<T> {
  private readonly inFlight = new Set<InFlight>();
  /** Replicas that failed this call; not tried again while others remain. */
  private readonly failed = new Set<string>();
  /** Replicas whose failure would repeat on a retry (retryability 'retry-repeats'). */
  private readonly deterministic = new Set<string>();
  private readonly telemetry: CallTelemetry;
  private readonly started = performance.now();
  private readonly startMs = Date.now();
  private deadline: number;
  /** The deadline was moved out to a fail-over budget: this long from the call's start. */
  private extendedToMs: number | undefined;
  /**
   * Signs, in this call, of a fault the system is handling rather than a system
   * that is gone: a round found no replica in the view, or the manager took one
   * out mid-attempt.
   */
  private sawRecovery = false;
  /** Replicas an attempt of this call timed out on (silent: hung, or held by a frozen database). */
  private readonly silent = new Set<string>();
  private readonly policy: ReplicationPolicy;
  private settled = false;
  private lastError: WireFailure | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private hedgeTimer: NodeJS.Timeout | undefined;
  private reaskTimer: NodeJS.Timeout | undefined;
  private rounds = 0;
  private resolve: (r: CallResult<T>) => void = () => {};
  private reject: (e: unknown) => void = () => {};
  private stopWatching: () => void = () => {};

  constructor(
    private readonly replicas: ReplicaSet,
    private readonly spec: CallSpec<T>,
  ) {
    this.policy = spec.policy;
    this.deadline = this.startMs + spec.deadlineMs;
    this.telemetry = {
      method: spec.method,
      mode: spec.mode,
      view: replicas.view.number.toString(),
      startMs: Date.now(),
      endMs: 0,
      latencyMs: 0,
      attempts: 0,
      failures: [],
      code: status.OK,
    };
  }

  run(): Promise<CallResult<T>> {
    return new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
      if (this.replicas.closed) {
        this.cancelled();
        return;
      }
      const stopViews = this.replicas.onViewChange(() => this.failOverFromRemovedMembers());
      const stopClose = this.replicas.onClose(() => this.cancelled());
      this.stopWatching = () => {
        stopViews();
        stopClose();
      };
      this.launchRound();
    });
  }

  private launchRound(): void {
    if (this.settled) return;
    this.rounds += 1;
    const ordered = this.preferAnswering(this.replicas.candidates(this.policy.rotate));
    if (ordered.length === 0) this.sawRecovery = true;
    let candidates = ordered.filter((m) => !this.failed.has(m.address));
    if (candidates.length === 0) {
      // Everyone failed once: the view may have changed, or a replica recovered; start over.
      this.failed.clear();
      this.deterministic.clear();
      candidates = ordered;
    }
    candidates = candidates.filter((m) => !this.isInFlight(m));
    if (candidates.length === 0) {
      if (this.inFlight.size === 0) this.retryLater();
      return;
    }
    const { fanOut, adaptiveHedge } = this.policy;
    const hedgeDelayMs = adaptiveHedge ? adaptiveHedge.delayMs(this.spec.method) : this.policy.hedgeDelayMs;
    const first = fanOut === 'all' ? candidates : candidates.slice(0, fanOut);
    // Only the first round's copies are tied: a later round comes after every copy ended
    // without an answer, and its copies wait for the claim's holder instead.
    const tied = this.policy.tied === true && this.rounds === 1;
    for (const member of first) this.launch(member, tied);
    clearTimeout(this.hedgeTimer);
    if (hedgeDelayMs !== undefined && candidates.length > first.length) {
      const rest = candidates.slice(
        first.length,
        adaptiveHedge ? first.length + adaptiveHedge.count : undefined,
      );
      this.hedgeTimer = setTimeout(() => {
        for (const member of rest) {
          if (this.settled) return;
          if (this.replicas.inView(member) && !this.failed.has(member.address) && !this.isInFlight(member))
            this.launch(member, tied);
        }
      }, hedgeDelayMs);
    }
  }

  private launch(member: ReplicaMember, tied = false): void {
    const remaining = this.remainingMs();
    if (remaining <= 0) {
      this.giveUp();
      return;
    }
    // Within a fail-over budget every attempt still ends by the ordinary deadline's length.
    const attemptMs = Math.min(remaining, this.policy.attemptTimeoutMs ?? this.spec.deadlineMs);
    this.telemetry.attempts += 1;
    const attempt: InFlight = { member, call: { cancel: () => {} } };
    this.inFlight.add(attempt);
    attempt.call = this.spec.attempt(
      this.replicas.channelFor(member),
      new Date(Date.now() + attemptMs),
      (err, value) => this.onResult(attempt, err, value),
      tied,
    );
  }

  private onResult(attempt: InFlight, err: WireFailure | Error | null, value: T | undefined): void {
    // An attempt already failed over (its replica left the view) was counted then.
    if (!this.inFlight.delete(attempt)) return;
    // A copy that answers after the call was settled: its answer is the stored one; nothing to do.
    if (this.settled) return;
    if (!err || (isWireFailure(err) && this.policy.retryability(err.code) === 'final'))
      this.replicas.silentReplicas.answered(attempt.member.address);
    if (!err) {
      this.finish(attempt.member, status.OK);
      this.policy.adaptiveHedge?.observe(this.spec.method, this.telemetry.latencyMs);
      this.resolve({ response: value as T, telemetry: this.telemetry });
      return;
    }
    if (!isWireFailure(err)) {
      this.finish(undefined, status.UNKNOWN);
      this.reject(err);
      return;
    }
    if (isTiedLoss(err)) {
      // A sibling holds the request or has answered it: its answer is awaited. A copy not
      // used, and no fault of this replica's. With no sibling left in flight, the holder's
      // answer was lost on the way (its replica failed): the next round's copies are not
      // tied, and wait for the stored answer.
      clientMetrics.loss(attempt.member.id);
      if (this.inFlight.size === 0) this.launchRound();
      else this.reaskUntiedLater(attempt.member);
      return;
    }
    if (this.policy.retryability(err.code) === 'final') {
      // The application's answer: final, and the same from every replica.
      this.fail(attempt.member, err.code, reasonOf(err), err.details);
      return;
    }
    this.attemptFailed(attempt.member, err);
  }

  /** Once per call: if no answer came within TIED_REASK_MS of a tied loss, `member` is asked untied. */
  private reaskUntiedLater(member: ReplicaMember): void {
    if (this.reaskTimer !== undefined) return;
    this.reaskTimer = setTimeout(() => {
      if (this.settled || !this.replicas.inView(member) || this.isInFlight(member)) return;
      this.launch(member);
    }, TIED_REASK_MS);
  }

  private attemptFailed(member: ReplicaMember, err: WireFailure): void {
    this.lastError = err;
    if (isDatabaseUnavailable(err)) this.replicas.databaseOutage.note();
    if (err.code === status.DEADLINE_EXCEEDED) {
      this.silent.add(member.address);
      if (this.policy.demoteSilentMs !== undefined) this.replicas.silentReplicas.timedOut(member.address);
    }
    this.failed.add(member.address);
    this.telemetry.failures.push({ replica: member.id, code: err.code, atMs: Date.now() });
    clientMetrics.failure(member.id, err.code);
    this.replicas.reportFault(member, err.code, err.details);
    if (this.policy.retryability(err.code) === 'retry-repeats') {
      this.deterministic.add(member.address);
      // Every replica of the view failed the same way: a bug or an exhausted resource, not a crash.
      // Retrying until the deadline would only hide it.
      const members = this.replicas.view.members;
      if (members.length > 0 && members.every((m) => this.deterministic.has(m.address))) {
        this.fail(undefined, err.code, reasonOf(err), err.details);
        return;
      }
    }
    if (this.policy.replaceFailed) {
      // Fail over at once to the next replica of the view, with the same request id.
      const next = this.preferAnswering(this.replicas.candidates(false)).find(
        (m) => !this.failed.has(m.address) && !this.isInFlight(m),
      );
      if (next) {
        clientMetrics.failover(member.id);
        this.launch(next);
        return;
      }
    }
    if (this.inFlight.size === 0) this.retryLater();
  }

  /** An attempt on a replica that just left the view will not be answered in time: fail it over now. */
  private failOverFromRemovedMembers(): void {
    if (this.settled) return;
    for (const attempt of [...this.inFlight]) {
      if (this.replicas.inView(attempt.member)) continue;
      this.inFlight.delete(attempt);
      attempt.call.cancel();
      this.sawRecovery = true;
      this.attemptFailed(attempt.member, { code: status.UNAVAILABLE, details: 'the replica left the view' });
    }
  }

  private retryLater(): void {
    if (this.settled) return;
    const remaining = this.remainingMs();
    if (remaining <= 0) {
      this.giveUp();
      return;
    }
    const delay = Math.min(remaining, backoffDelay(BACKOFF.callRetry, this.rounds - 1));
    this.retryTimer = setTimeout(() => this.launchRound(), delay);
  }

  /**
   * Time left before the call gives up. When the ordinary deadline has run out while
   * the system is visibly handling a fault rather than gone, the call goes on until
   * the fail-over budget from its start: a replica said the database is unavailable
   * (to this call, or lately to another of the client's); the manager took replicas
   * out of the view during the call, or left none in it (NOT_SERVING while there is
   * no primary, or all being replaced). If every replica in the view went silent on
   * this call and nothing else is known (what a frozen primary looks like before
   * anyone notices, and also a client cut off from every replica), only until the
   * shorter silence budget; a sign that comes later extends it to the whole budget.
   * A retry with the same request id is safe, and a fail-over ends by itself.
   * Replicas that refuse connections or fail otherwise still end the call at its deadline.
   */
  private remainingMs(): number {
    const now = Date.now();
    const budget = this.spec.failoverBudgetMs;
    if (this.deadline <= now && budget !== undefined) {
      const members = this.replicas.view.members;
      const told =
        this.replicas.databaseOutage.recent(budget, now) || this.sawRecovery || members.length === 0;
      const silent = members.every((m) => this.silent.has(m.address));
      const limit = told
        ? budget
        : silent
          ? Math.min(budget, this.spec.silenceBudgetMs ?? budget)
          : undefined;
      if (limit !== undefined && this.startMs + limit > this.deadline) {
        this.extendedToMs = limit;
        this.deadline = this.startMs + limit;
      }
    }
    return this.deadline - now;
  }

  private cancelled(): void {
    if (this.settled) return;
    this.fail(undefined, status.CANCELLED, undefined, 'the replicated client was closed');
  }

  private giveUp(): void {
    if (this.settled) return;
    const last = this.lastError
      ? ` (last failure: ${status[this.lastError.code]} ${this.lastError.details})`
      : '';
    const within =
      this.extendedToMs !== undefined
        ? `${this.extendedToMs} ms (a fail-over was under way: the database unavailable, or the replicas out of the view or silent)`
        : `${this.spec.deadlineMs} ms`;
    this.fail(undefined, status.DEADLINE_EXCEEDED, undefined, `no replica answered within ${within}${last}`);
  }

  /** Ends the call with an error: the application's answer from `member`, or the client's own. */
  private fail(
    member: ReplicaMember | undefined,
    code: status,
    reason: string | undefined,
    details: string,
  ): void {
    this.finish(member, code);
    this.reject(new ReplicatedCallError(code, reason, details, this.telemetry));
  }

  private finish(member: ReplicaMember | undefined, code: status): void {
    this.settled = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.hedgeTimer);
    clearTimeout(this.reaskTimer);
    this.stopWatching();
    if (member) clientMetrics.win(member.id);
    if (this.inFlight.size > 0) {
      const late = [...this.inFlight];
      for (const a of late) clientMetrics.loss(a.member.id);
      setTimeout(() => {
        for (const a of late) if (this.inFlight.has(a)) a.call.cancel();
      }, LOSER_GRACE_MS).unref();
    }
    this.telemetry.answeredBy = member?.id;
    this.telemetry.code = code;
    this.telemetry.endMs = Date.now();
    this.telemetry.latencyMs = performance.now() - this.started;
    clientMetrics.call(this.spec.method, code, this.telemetry.latencyMs / 1000);
  }

  /** The view's members in the policy's order, those this client lately found silent last (demoteSilentMs). */
  private preferAnswering(members: ReplicaMember[]): ReplicaMember[] {
    const windowMs = this.policy.demoteSilentMs;
    return windowMs === undefined ? members : this.replicas.silentReplicas.last(members, windowMs);
  }

  private isInFlight(member: ReplicaMember): boolean {
    for (const a of this.inFlight) if (a.member.address === member.address) return true;
    return false;
  }
}

function isWireFailure(err: WireFailure | Error): err is WireFailure {
  return typeof (err as Partial<WireFailure>).code === 'number';
}
