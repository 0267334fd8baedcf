import { fetchStatus, managerClient } from '../client/manager-client.js';
import { liveFeeds } from '../common/live-feeds.js';
import { primaryPostmaster } from '../common/primary-postmaster.js';
import { isAlive, signalQuietly } from '../common/process-state.js';
import { hedgeProto } from '../common/proto.js';
import { mulberry32 } from '../common/random.js';
import { deadlineAfter, invoke } from '../common/rpc.js';
import type { HostStatus__Output } from '../gen/hedge/v1/HostStatus.js';
import type { ReplicaStatus__Output } from '../gen/hedge/v1/ReplicaStatus.js';
import { channelCredentials } from '../tls/transport.js';
import type { DelayScope } from './host-delay-rules.js';
import { actOnHost, type HostFaultKind, isHostFault } from './host-faults.js';

/**
 * `db-primary`: SIGKILL the postmaster of the database's primary (needs `databaseUrl`);
 * `feed`: SIGKILL one of the stock feeds (found through the data directory's run files), never the last one.
 * `partition`, `host-crash`, `delay`: a whole host of the manager's (host-faults.ts).
 */
export type FaultKind = 'crash' | 'hang' | 'slow' | 'db-primary' | 'feed' | HostFaultKind;
export const FAULT_KINDS: readonly FaultKind[] = [
  'crash',
  'hang',
  'slow',
  'db-primary',
  'feed',
  'partition',
  'host-crash',
  'delay',
];

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
  /** How long a partition or a delay lasts before the host's link comes up again, or a crashed host is down. */
  hostDownMs?: number;
  /** What a `delay` adds to each chunk of the host's connections, each way, and to which (default all). */
  hostDelayMs?: number;
  hostDelayScope?: DelayScope;
  /** Brings a crashed host's processes back (a bench restarts its agent); without it the host stays down. */
  restartHost?: (host: string) => void;
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
  /** A host fault's casualties: the replicas serving on the host (a delay's: those it slows). */
  replicas?: { id: string; pid: number }[];
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

  /**
   * Injects no more. A partition under way still heals when it is due, and
   * `finished` waits for it; `healNow` (Ctrl-C) heals it at once instead.
   */
  stop(healNow = false): void {
    if (!this.stopped) {
      this.stopped = true;
      for (const t of this.timers) clearTimeout(t);
      this.manager.close();
    }
    if (healNow) for (const [timer, heal] of [...this.heals]) this.runHeal(timer, heal);
    this.finishIfDone();
  }

  /** Once stopped, done when no injection is under way and no heal is due or running. */
  private finishIfDone(): void {
    if (this.stopped && this.acting === 0 && this.heals.size === 0 && this.healing === 0) this.done();
  }

  /** Hosts under a delay of this injector's. */
  private readonly delayed = new Set<string>();

  /** Heals still due, by their timers: a link is never left down when the injector is done. */
  private readonly heals = new Map<NodeJS.Timeout, () => void | Promise<void>>();
  /** Heals under way (a delay's proxy closing its connections): `finished` waits for them too. */
  private healing = 0;
  /**
   * Injections under way: `finished` waits for them too, so that one arming a delay
   * (which takes seconds) still emits its line, and heals what it armed.
   */
  private acting = 0;

  private scheduleHeal(heal: () => void | Promise<void>, afterMs: number): void {
    const timer: NodeJS.Timeout = setTimeout(() => this.runHeal(timer, heal), afterMs);
    this.heals.set(timer, heal);
    // Stopped while the fault was being armed: nothing of it outlasts the injector.
    if (this.stopped) this.runHeal(timer, heal);
  }

  private runHeal(timer: NodeJS.Timeout, heal: () => void | Promise<void>): void {
    clearTimeout(timer);
    this.heals.delete(timer);
    this.healing += 1;
    const settle = () => {
      this.healing -= 1;
      this.finishIfDone();
    };
    let healed: void | Promise<void>;
    try {
      healed = heal();
    } catch (err) {
      settle();
      throw err;
    }
    void Promise.resolve(healed)
      .catch((err: Error) => process.stderr.write(`hedge inject: a heal failed: ${err.message}\n`))
      .finally(settle);
  }

  /**
   * One injection after those before it have acted: two at once would both
   * read N serving, both decide N − 1 is enough, and leave N − 2.
   */
  injectInTurn(): Promise<Injection | undefined> {
    this.acting += 1;
    const next = this.previous
      .then(() => this.injectOnce())
      .finally(() => {
        this.acting -= 1;
        this.finishIfDone();
      });
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
    if (isHostFault(kind))
      return this.faultHost(kind, base, status.hosts, serving, kind === 'delay' ? 0 : minimum);
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

  /**
   * Partitions, crashes or delays a seeded-random reachable host that runs a
   * serving replica, if those serving elsewhere are at least the minimum (a
   * delay takes none out: it has no minimum).
   */
  private async faultHost(
    kind: HostFaultKind,
    base: Pick<Injection, 'time_ms' | 'time' | 'kind'>,
    hosts: HostStatus__Output[],
    serving: ReplicaStatus__Output[],
    minimum: number,
  ): Promise<Injection> {
    const on = (h: HostStatus__Output) => serving.filter((r) => r.host === h.name);
    const candidates = hosts.filter(
      (h) =>
        h.reachable &&
        !this.delayed.has(h.name) &&
        on(h).length > 0 &&
        serving.length - on(h).length >= minimum,
    );
    if (candidates.length === 0) {
      return this.emit({
        ...base,
        outcome: 'skipped',
        detail:
          hosts.length === 0
            ? 'the manager has no hosts (it runs without agents)'
            : `no reachable host can be lost leaving ${minimum} serving (${serving.length} serving)`,
        serving_before: serving.length,
      });
    }
    const host = this.pick(candidates);
    const victims = on(host);
    const downMs = this.options.hostDownMs ?? 10_000;
    const failure = await actOnHost(kind, host, {
      downMs,
      delayMs: this.options.hostDelayMs,
      delayScope: this.options.hostDelayScope,
      restart: this.options.restartHost,
      scheduleHeal: (heal, afterMs) => {
        // A delayed host stays reachable: it is delayed once at a time.
        if (kind === 'delay') this.delayed.add(host.name);
        this.scheduleHeal(async () => {
          try {
            await heal();
          } finally {
            this.delayed.delete(host.name);
          }
        }, afterMs);
      },
    });
    if (failure === undefined && kind !== 'delay') {
      const until = kind === 'partition' ? Date.now() + downMs : Number.POSITIVE_INFINITY;
      for (const r of victims) this.downUntil.set(r.pid, until);
    }
    if (failure === undefined) this.injected += 1;
    const injection = this.emit({
      ...base,
      target: { id: host.name, pid: 0, address: host.address },
      replicas: victims.map((r) => ({ id: r.id, pid: r.pid })),
      outcome: failure === undefined ? 'injected' : 'failed',
      detail: failure,
      serving_before: serving.length,
    });
    if (this.options.count !== undefined && this.injected >= this.options.count) this.stop();
    return injection;
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
