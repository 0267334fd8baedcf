import { fetchStatus, managerClient } from '../client/manager-client.js';
import { liveFeeds } from '../common/live-feeds.js';
import { primaryPostmaster } from '../common/primary-postmaster.js';
import { isAlive, signalQuietly } from '../common/process-state.js';
import { hedgeProto } from '../common/proto.js';
import { mulberry32 } from '../common/random.js';
import { deadlineAfter, invoke } from '../common/rpc.js';
import type { ReplicaStatus__Output } from '../gen/hedge/v1/ReplicaStatus.js';
import { channelCredentials } from '../tls/transport.js';

/**
 * `db-primary`: SIGKILL the postmaster of the database's primary (needs `databaseUrl`);
 * `feed`: SIGKILL one of the stock feeds (found through the data directory's run files), never the last one.
 */
export type FaultKind = 'crash' | 'hang' | 'slow' | 'db-primary' | 'feed';
export const FAULT_KINDS: readonly FaultKind[] = ['crash', 'hang', 'slow', 'db-primary', 'feed'];

export interface InjectorOptions {
  manager: string;
  kinds: FaultKind[];
  /** Inject every this many ms … */
  everyMs?: number;
  /** … or at these offsets from the start. */
  atMs?: number[];
  /** Stop after this many injections, or after this long (whichever first). */
  count?: number;
  durationMs?: number;
  seed: number;
  /** Never leave fewer serving replicas than this (default: the manager's minimum). */
  minimum?: number;
  hangMs: number;
  slowDelayMs: number;
  slowDurationMs: number;
  /** The database, for `db-primary` (a multi-host URL names every node). */
  databaseUrl?: string;
  /** The running system's data directory, where the feeds' run files are (kind `feed`). */
  dataDir?: string;
}

/** One line per injection (or skipped injection), with its wall-clock time. */
export interface Injection {
  time_ms: number;
  time: string;
  kind: FaultKind;
  target?: { id: string; pid: number; address: string };
  outcome: 'injected' | 'skipped' | 'failed';
  detail?: string;
  serving_before: number;
}

/**
 * Kills (SIGKILL), hangs (SIGSTOP, SIGCONT after a while if still alive) or slows
 * (ReplicaAdmin.SetSlowness) a seeded-random serving replica on a schedule,
 * never taking the serving count below the minimum. It runs beside the replicas:
 * crash and hang signal their pids, which the manager's status reports.
 */
export class FaultInjector {
  private readonly random: () => number;
  private readonly manager: ReturnType<typeof managerClient>;
  private timers: NodeJS.Timeout[] = [];
  private stopped = false;
  private done: () => void = () => {};
  readonly finished: Promise<void>;
  private injected = 0;
  /** The injection under way: the next waits for it, so that it decides on what this one left. */
  private previous: Promise<unknown> = Promise.resolve();
  /** Until when a replica's process (by pid) is out through an earlier crash or hang of this injector. */
  private readonly downUntil = new Map<number, number>();

  constructor(
    private readonly options: InjectorOptions,
    private readonly onInjection: (i: Injection) => void,
  ) {
    this.random = mulberry32(options.seed);
    this.manager = managerClient(options.manager);
    this.finished = new Promise((resolve) => {
      this.done = resolve;
    });
  }

  start(): void {
    const { everyMs, atMs, durationMs } = this.options;
    const times = atMs ?? [];
    let done = 0;
    for (const t of times) {
      this.timers.push(
        setTimeout(() => {
          void this.injectInTurn().finally(() => {
            // A fixed list ends with its last injection, once that is complete.
            done += 1;
            if (done === times.length && everyMs === undefined && durationMs === undefined) this.stop();
          });
        }, t),
      );
    }
    if (everyMs !== undefined) this.timers.push(setInterval(() => void this.injectInTurn(), everyMs));
    if (durationMs !== undefined) this.timers.push(setTimeout(() => this.stop(), durationMs));
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.manager.close();
    this.done();
  }

  /**
   * One injection after those before it have acted: two at once would both
   * read N serving, both decide N − 1 is enough, and leave N − 2.
   */
  injectInTurn(): Promise<Injection | undefined> {
    const next = this.previous.then(() => this.injectOnce());
    this.previous = next.catch(() => undefined);
    return next;
  }

  /** Picks a target and injects one fault of a seeded-random kind. */
  async injectOnce(): Promise<Injection | undefined> {
    if (this.stopped) return undefined;
    const kind = this.pick(this.options.kinds);
    if (kind === 'feed') return this.killFeed();
    const status = await fetchStatus(this.manager, 2_000).catch(() => undefined);
    if (this.stopped) return undefined;
    const now = Date.now();
    const base = { time_ms: now, time: new Date(now).toISOString(), kind };
    if (!status) {
      return this.emit({
        ...base,
        outcome: 'failed',
        detail: 'the manager did not answer',
        serving_before: 0,
      });
    }
    // The manager may not have noticed an earlier crash or hang yet: that replica is not
    // serving, whatever the status says. (A slowed one still serves.)
    const serving = status.replicas.filter(
      (r) => r.state === 'REPLICA_STATE_SERVING' && r.pid > 0 && (this.downUntil.get(r.pid) ?? 0) <= now,
    );
    if (kind === 'db-primary') return this.killDatabasePrimary(base, serving.length);
    const minimum = this.options.minimum ?? status.minimum;
    if (serving.length - 1 < minimum) {
      return this.emit({
        ...base,
        outcome: 'skipped',
        detail: `only ${serving.length} serving; the minimum is ${minimum}`,
        serving_before: serving.length,
      });
    }
    const target = this.pick(serving);
    const detail = await this.act(kind, target);
    this.injected += 1;
    const injection = this.emit({
      ...base,
      target: { id: target.id, pid: target.pid, address: target.address },
      outcome: detail === undefined ? 'injected' : 'failed',
      detail,
      serving_before: serving.length,
    });
    if (this.options.count !== undefined && this.injected >= this.options.count) this.stop();
    return injection;
  }

  /** Performs the fault; returns why it failed, if it did. */
  private async act(kind: FaultKind, target: ReplicaStatus__Output): Promise<string | undefined> {
    if (kind === 'crash') {
      this.downUntil.set(target.pid, Number.POSITIVE_INFINITY);
      signalQuietly(target.pid, 'SIGKILL');
      return undefined;
    }
    if (kind === 'hang') {
      this.downUntil.set(target.pid, Date.now() + this.options.hangMs);
      signalQuietly(target.pid, 'SIGSTOP');
      const timer = setTimeout(() => {
        if (isAlive(target.pid)) signalQuietly(target.pid, 'SIGCONT');
      }, this.options.hangMs);
      this.timers.push(timer);
      return undefined;
    }
    const admin = new (hedgeProto().ReplicaAdmin)(target.address, channelCredentials('replica'));
    try {
      await invoke((cb) =>
        admin.SetSlowness(
          { delay_ms: this.options.slowDelayMs, duration_ms: this.options.slowDurationMs },
          { deadline: deadlineAfter(2_000) },
          cb,
        ),
      );
      return undefined;
    } catch (err) {
      return (err as Error).message;
    } finally {
      admin.close();
    }
  }

  /** The database's primary postmaster, SIGKILLed: its target is the node, not a replica. */
  private async killDatabasePrimary(
    base: Pick<Injection, 'time_ms' | 'time' | 'kind'>,
    servingBefore: number,
  ): Promise<Injection> {
    const { databaseUrl } = this.options;
    try {
      if (!databaseUrl) throw new Error('db-primary needs the database URL');
      const primary = await primaryPostmaster(databaseUrl);
      signalQuietly(primary.pid, 'SIGKILL');
      this.injected += 1;
      const injection = this.emit({
        ...base,
        time_ms: Date.now(),
        target: { id: primary.node, pid: primary.pid, address: primary.node },
        outcome: 'injected',
        serving_before: servingBefore,
      });
      if (this.options.count !== undefined && this.injected >= this.options.count) this.stop();
      return injection;
    } catch (err) {
      return this.emit({
        ...base,
        outcome: 'failed',
        detail: (err as Error).message,
        serving_before: servingBefore,
      });
    }
  }

  /**
   * SIGKILLs a seeded-random running feed, if another one is left running: any
   * feed quotes the same prices, so clients and replicas go on with the rest
   * (`hedge up` restarts the killed one). `serving_before` counts feeds here.
   */
  private killFeed(): Injection {
    const now = Date.now();
    const base = { time_ms: now, time: new Date(now).toISOString(), kind: 'feed' as const };
    const feeds = liveFeeds(this.options.dataDir ?? '').filter(
      (f) => (this.downUntil.get(f.pid) ?? 0) <= now,
    );
    if (feeds.length < 2) {
      return this.emit({
        ...base,
        outcome: 'skipped',
        detail: `only ${feeds.length} feed(s) running; one must be left`,
        serving_before: feeds.length,
      });
    }
    const target = this.pick(feeds);
    this.downUntil.set(target.pid, Number.POSITIVE_INFINITY);
    signalQuietly(target.pid, 'SIGKILL');
    this.injected += 1;
    const injection = this.emit({
      ...base,
      target: { id: target.name, pid: target.pid, address: target.address },
      outcome: 'injected',
      serving_before: feeds.length,
    });
    if (this.options.count !== undefined && this.injected >= this.options.count) this.stop();
    return injection;
  }

  private pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.random() * items.length)] as T;
  }

  private emit(injection: Injection): Injection {
    this.onInjection(injection);
    return injection;
  }
}
