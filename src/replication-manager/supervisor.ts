import { setTimeout as delay } from 'node:timers/promises';
import { connectivityState } from '@grpc/grpc-js';
import { checkHealth, healthClient } from '../common/health.js';
import type { Logger } from '../common/logger.js';
import type { ProcessState } from '../common/process-state.js';
import { HEARTBEAT_CHANNEL_OPTIONS } from '../common/rpc.js';
import { defaultOf, PROCESS_WATCH_INTERVAL, type ReplicaSettings } from '../common/settings.js';
import type { Member } from '../gen/hedge/v1/Member.js';
import type { ReplicaStatus } from '../gen/hedge/v1/ReplicaStatus.js';
import { type Launch, type Launcher, LocalLauncher } from './launcher.js';
import { managerMetrics } from './manager-metrics.js';
import type { MembershipPublisher } from './membership.js';
import { PhiAccrual } from './phi-accrual.js';
import { homeOf } from './placement.js';
import { AnswerLatency } from './probe-deadline.js';
import { type Registry, type RegistryEntry, writeRegistry } from './registry.js';
import {
  addressOf,
  adoptedSlot,
  type Effect,
  freeSpares,
  type HealthAnswer,
  isServing,
  newSlot,
  registryEntry,
  replicaStatus,
  type SlotEvent,
  type SlotState,
  type Transition,
  transition,
} from './slot-machine.js';

export interface SupervisorOptions {
  dataDir: string;
  databaseUrl: string;
  /** Replicas to keep serving. */
  replicas: number;
  /** Warm spares to keep besides them (started and warmed up, out of the view). */
  spares: number;
  /** Rejuvenate a serving replica past either threshold (a spare takes its place first); off when unset. */
  rejuvenate?: RejuvenationThresholds;
  /** The floor below which deliberate removals (the fault injector) must not go. */
  minimum: number;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
  /** Consecutive failed heartbeats below which a running replica is never faulty. */
  heartbeatMisses: number;
  /** How often /proc is read for every watched replica (default: PROCESS_WATCH_INTERVAL's). */
  processWatchIntervalMs?: number;
  /** What every replica is started with (dedup strategy, pool size, fault injection, …). */
  replica: Omit<ReplicaSettings, 'id' | 'dataDir' | 'ownerPid'>;
  /** Replicas exit when this process is gone (`hedge up`). */
  ownerPid?: number;
  registryPath: string;
  logDir: string;
  /** Where replicas are started: children of the manager unless given (agents on several hosts). */
  launcher?: Launcher;
  /**
   * Whether this manager may still change the world (with --lease: whether its lease is
   * held, by its own clock). Asked before every spawn, signal, view and registry write;
   * when false the action is not taken, and the lease's owner stands the manager down.
   */
  mayAct?: () => boolean;
}

export interface RejuvenationThresholds {
  /** Resident memory, in bytes. */
  maxRssBytes?: number;
  /** Time since the process was started. */
  maxAgeMs?: number;
}

export interface SupervisorStats {
  faults: number;
  recoveries: number;
  lastRecoveryMs: number;
}

const FIRST_HEARTBEAT_TIMEOUT_MS = 1_000;
/**
 * After a miss each check waits twice as long, up to this: a replica starved of CPU
 * may need longer than the timeout to answer, and an answer cut off by the deadline
 * would never be seen. A stop is still seen within a heartbeat interval meanwhile.
 */
const MAX_HEARTBEAT_TIMEOUT_MS = 2_000;
/**
 * While a replica's host agent is silent (and the manager hears the other hosts),
 * its heartbeat is a short probe, this often: a few in a row unanswered make it
 * faulty (HOST_PROBE_MISSES) within a few seconds. Each probe's deadline follows
 * the replica's own answer times and doubles after a miss (probe-deadline.ts), so
 * a slow link is not taken for a dead host; a miss while the heartbeat channel is
 * (re)connecting does not count (a reset connection is no silence).
 */
const HOST_PROBE_INTERVAL_MS = 250;
/** How long a heartbeat channel may be redialling before its probes' misses count again. */
const RECONNECT_GRACE_MS = 2_000;
/** A retired replica is signalled this long after leaving the view: its clients have the new view by then. */
const DRAIN_NOTICE_MS = 500;
/** How long a retired replica may take to finish its calls after SIGTERM. */
const DRAIN_GRACE_MS = 10_000;
/** How often serving replicas are measured against the rejuvenation thresholds. */
const REJUVENATION_CHECK_MS = 1_000;

/** A slot's running heartbeat; `stopped` ends its loop. */
interface Heartbeat {
  health: ReturnType<typeof healthClient>;
  pid?: number;
  /** The suspicion over this process's answer times, which a client's report is judged by too. */
  detector: PhiAccrual;
  stopped: boolean;
  /** Ends the loop's current wait (a pending check, or the pause before the next). */
  wake?: () => void;
  /** Waiting for the next check (not a check pending). */
  pausing: boolean;
  /** Short probes unanswered in a row while its host is silent (HealthSignals.host). */
  hostMisses: number;
  /** Its recent answer times, which a probe's deadline follows. */
  latency: AnswerLatency;
  /** Since when its channel has not been connected, if it is not. */
  unreadySinceMs?: number;
  /** The host silence (its start) the loop was last woken for: woken once per silence, not every watch. */
  probedSilence?: number;
}

/** Whether the heartbeat's channel is connected (not connecting, idle, or failing). */
function channelReady(beat: Heartbeat): boolean {
  return beat.health.getChannel().getConnectivityState(false) === connectivityState.READY;
}

/** Resolves with `value` when the heartbeat is woken. */
function wakeOf<T>(beat: Heartbeat, value: T): Promise<T> {
  return new Promise((resolve) => {
    beat.wake = () => resolve(value);
  });
}

/** Waits `ms`, or less if the heartbeat is woken meanwhile. */
function pause(beat: Heartbeat, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      beat.wake = undefined;
      resolve();
    };
    const timer = setTimeout(() => {
      beat.pausing = false;
      done();
    }, ms);
    beat.pausing = true;
    beat.wake = () => {
      beat.pausing = false;
      done();
    };
  });
}

/**
 * Owns the replica processes: spawns them (detached, so that they outlive a
 * manager that dies), watches them three ways (their exit, heartbeat health
 * checks that also catch a hung process, and client reports that its own probe
 * misses too, judged by the heartbeat's signals), kills faulty ones with SIGKILL and replaces them, with back-off
 * when replacements fail in a loop. Every change of the serving set is published
 * as a new view and written to the registry.
 *
 * What happens to a slot is decided by `transition` (slot-machine.ts); this class
 * only runs it: it owns the processes, timers and channels, turns what they do
 * into events, and performs the effects the machine returns.
 */
export class Supervisor {
  private readonly slots = new Map<string, SlotState>();
  /** The launch of a slot's incarnation; none for an adopted replica. */
  private readonly children = new Map<string, { incarnation: number; child: Launch }>();
  readonly launcher: Launcher;
  private readonly heartbeats = new Map<string, Heartbeat>();
  private readonly respawnTimers = new Map<string, NodeJS.Timeout>();
  /** One probe at a time per slot, shared by concurrent client reports. */
  private readonly probes = new Map<string, Promise<HealthAnswer>>();
  /** Events raised while effects are performed wait here: transitions never nest. */
  private readonly queue: [string, SlotEvent][] = [];
  private dispatching = false;
  /** A view change made while dispatching: published once the queue is empty, so a swap is one view. */
  private viewDirty = false;
  private rejuvenationTimer?: NodeJS.Timeout;
  private relocationTimer?: NodeJS.Timeout;
  /** A move home without a warm spare: the new slot started on the returned host, and the one it replaces. */
  private mover?: { id: string; replacing: string; host: string };
  /** The slot that moved home through `mover`: removed once drained, not started again. */
  private removing?: string;
  private readonly processWatch: NodeJS.Timeout;
  private stopped = false;
  /** Handed over (`detach`): the replicas are the next manager's; nothing here acts on them again. */
  private handedOver = false;
  /** While starting, views wait until every slot has been adopted or spawned: one view, not one per replica. */
  private holdingViews = true;
  /** While starting: the first spawns, each settled once its ready (or failure) is handled. */
  private firstSpawns?: Promise<void>[];
  /** While stopping: the terminations under way, and how long each waits for SIGTERM. */
  private terminations: Promise<void>[] = [];
  private graceMs = 5_000;
  readonly stats: SupervisorStats = { faults: 0, recoveries: 0, lastRecoveryMs: 0 };

  constructor(
    private readonly options: SupervisorOptions,
    private readonly membership: MembershipPublisher,
    private readonly log: Logger,
  ) {
    this.launcher = options.launcher ?? new LocalLauncher(options.logDir, options.databaseUrl);
    this.processWatch = setInterval(
      () => this.watchProcesses(),
      options.processWatchIntervalMs ?? defaultOf(PROCESS_WATCH_INTERVAL),
    ).unref();
  }

  /** Adopts live replicas from an earlier manager's registry, then fills every empty slot. */
  async start(previous: Registry | undefined): Promise<void> {
    await this.launcher.connect();
    // Probed together: a replica that does not answer costs its 1 s timeout once, not once per replica.
    const entries = previous?.replicas ?? [];
    const answers = await Promise.all(entries.map((entry) => this.adoptable(entry)));
    for (const [i, entry] of entries.entries()) {
      const answer = answers[i];
      if (answer) {
        this.log.info(
          { replica: entry.id, replicaPid: entry.pid, address: entry.address, health: answer },
          'adopted a running replica',
        );
        this.begin(adoptedSlot(entry, answer, Date.now()));
      } else {
        this.log.warn(
          { replica: entry.id, replicaPid: entry.pid },
          'a registered replica does not answer; killing it',
        );
        if (this.acting()) void this.launcher.signal(entry.id, entry.pid, 'SIGKILL');
      }
    }
    this.firstSpawns = [];
    let members = [...this.slots.values()].filter((s) => s.role === 'member').length;
    // Up to the count, not by id: after a move home the ids are not r1..rN (an adopted r4 may stand for r1).
    for (let i = 1; this.slots.size < this.options.replicas + this.options.spares; i++) {
      const id = `r${i}`;
      if (this.slots.has(id)) continue;
      const role = members < this.options.replicas ? 'member' : 'spare';
      if (role === 'member') members += 1;
      this.begin(newSlot(id, Date.now(), role));
    }
    await Promise.all(this.firstSpawns);
    this.firstSpawns = undefined;
    this.holdingViews = false;
    this.launcher.settled(() =>
      [...this.slots.values()].map((s) => ({ id: s.id, pid: 'pid' in s.phase ? s.phase.pid : undefined })),
    );
    // An adopted spare may take the place of a member that could not be adopted.
    this.dispatchAll([]);
    this.publish();
    const { maxRssBytes, maxAgeMs } = this.options.rejuvenate ?? {};
    if (maxRssBytes !== undefined || maxAgeMs !== undefined)
      this.rejuvenationTimer = setInterval(() => this.rejuvenate(), REJUVENATION_CHECK_MS);
    if (this.launcher.hosts().length > 0)
      this.relocationTimer = setInterval(() => this.moveHome(), REJUVENATION_CHECK_MS);
  }

  serving(): Member[] {
    return [...this.slots.values()]
      .filter(isServing)
      .map((s) => ({ id: s.id, address: s.phase.address }))
      .sort((a, b) => a.id.localeCompare(b.id, 'en', { numeric: true }));
  }

  status(): ReplicaStatus[] {
    return [...this.slots.values()]
      .sort((a, b) => a.id.localeCompare(b.id, 'en', { numeric: true }))
      .map((s) => {
        const status = replicaStatus(s);
        return { ...status, host: (status.pid && this.launcher.hostOf(s.id, status.pid)) || '' };
      });
  }

  /**
   * A client saw an infrastructure failure from a replica. If the manager's own probe
   * goes unanswered too, the machine judges the report by the heartbeat's signals, so
   * that neither a client nor one slow answer gets a busy, healthy replica killed.
   */
  async report(idOrAddress: { id?: string; address?: string }, what: string): Promise<boolean> {
    const slot = [...this.slots.values()].find(
      (s) =>
        (idOrAddress.id && s.id === idOrAddress.id) ||
        (idOrAddress.address && addressOf(s.phase) === idOrAddress.address),
    );
    if (!slot || !isServing(slot)) return false;
    // A late report about the process this slot had before must not get its replacement killed.
    if (idOrAddress.address && slot.phase.address !== idOrAddress.address) return false;
    const { id, incarnation } = slot;
    let probe = this.probes.get(id);
    if (!probe) {
      probe = this.probe(id).finally(() => this.probes.delete(id));
      this.probes.set(id, probe);
    }
    const answer = await probe;
    // NOT_SERVING answers too: the replica is alive, the database is away (the heartbeat takes it out of the view).
    if (answer) {
      this.log.info(
        { replica: id, report: what, health: answer },
        'a client reported a fault the probe did not confirm',
      );
      return false;
    }
    const beat = this.heartbeats.get(id);
    if (!beat || this.slots.get(id)?.incarnation !== incarnation) return false;
    // Its host silent and no majority heard: the manager may be the one cut off, no evidence.
    if (!this.launcher.silenceCounts(id, beat.pid)) return false;
    const nowMs = Date.now();
    const silence = beat.pid === undefined ? undefined : this.launcher.hostSilence(id, beat.pid);
    const signals = {
      process: beat.pid === undefined ? ('gone' as const) : this.launcher.state(id, beat.pid),
      phi: beat.detector.phi(nowMs),
      silentMs: beat.detector.silentMs(nowMs),
      host: silence && { silentMs: silence.silentMs, misses: beat.hostMisses },
    };
    this.dispatch(id, { type: 'client-report', incarnation, what: `client reported: ${what}`, signals });
    const after = this.slots.get(id);
    return after?.incarnation === incarnation && after.phase.kind === 'faulty';
  }

  /** Stops every replica: SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 5_000): Promise<void> {
    this.stopped = true;
    clearInterval(this.rejuvenationTimer);
    clearInterval(this.relocationTimer);
    clearInterval(this.processWatch);
    this.graceMs = graceMs;
    for (const id of this.slots.keys()) this.dispatch(id, { type: 'stop' });
    await Promise.all(this.terminations);
    this.terminations = [];
    this.slots.clear();
    this.saveRegistry();
    this.launcher.close();
  }

  /**
   * Hands the replicas over to the manager that takes over (SIGTERM under --lease):
   * stops watching them and leaves them serving, the registry naming them, for it
   * to adopt. A replica still starting is registered too (its successor adopts it
   * if it answers, else kills it); a retired one gets its SIGTERM now, as its drain
   * would have given it.
   */
  async detach(): Promise<void> {
    this.stopped = true;
    clearInterval(this.rejuvenationTimer);
    clearInterval(this.relocationTimer);
    clearInterval(this.processWatch);
    for (const timer of this.respawnTimers.values()) clearTimeout(timer);
    this.respawnTimers.clear();
    for (const id of [...this.heartbeats.keys()]) this.perform(id, { kind: 'stop-heartbeat' });
    const drains = [...this.slots.values()].flatMap((s) =>
      s.phase.kind === 'draining' && s.phase.pid !== undefined && this.acting()
        ? [this.launcher.signal(s.id, s.phase.pid, 'SIGTERM')]
        : [],
    );
    await Promise.all(drains);
    this.saveRegistry();
    this.handedOver = true;
    this.launcher.close();
  }

  /** Whether an action that changes the world may be taken now (see SupervisorOptions.mayAct). */
  private acting(): boolean {
    return !this.handedOver && (this.options.mayAct?.() ?? true);
  }

  /** A slot's first state: taken as it is, its effects performed. */
  private begin({ state, effects }: Transition): void {
    if (this.stopped) return;
    this.slots.set(state.id, state);
    for (const effect of effects) this.perform(state.id, effect);
  }

  /** Feeds an event to the slot's machine and performs the effects, one event at a time. */
  private dispatch(id: string, event: SlotEvent): void {
    this.dispatchAll([[id, event]]);
  }

  /**
   * Feeds events in order. After each, every member out of the view (failed,
   * backing off, starting) is paired with a warm spare ahead of whatever else is
   * queued (a respawn's synchronous spawn and registry writes take tens of ms on
   * a loaded machine), and a view change is published as soon as no such swap is
   * pending: the failed member's exit and the spare's entry are one view.
   */
  private dispatchAll(events: [string, SlotEvent][]): void {
    if (this.handedOver) return;
    this.queue.push(...events);
    if (this.dispatching) return;
    this.dispatching = true;
    try {
      this.coverFromSpares();
      for (let next = this.queue.shift(); next; next = this.queue.shift()) {
        const [slotId, slotEvent] = next;
        const state = this.slots.get(slotId);
        if (slotEvent.type === 'drained' && slotId === this.removing && state?.phase.kind === 'draining') {
          this.removeSlot(slotId);
        } else if (state) {
          const result = transition(state, slotEvent, {
            nowMs: Date.now(),
            heartbeatMisses: this.options.heartbeatMisses,
          });
          this.slots.set(slotId, result.state);
          for (const effect of result.effects) this.perform(slotId, effect);
        }
        this.coverFromSpares();
        // A swap (promote, then covered or retire) is one view change.
        const front = this.queue[0]?.[1].type;
        const swapping = front === 'promote' || front === 'covered' || front === 'retire';
        if (this.viewDirty && !swapping) {
          this.viewDirty = false;
          this.publish();
        }
      }
    } finally {
      this.dispatching = false;
    }
    if (this.viewDirty) {
      this.viewDirty = false;
      this.publish();
    }
  }

  /** Puts a warm spare's promotion first in the queue for each member out of the view; false if there is none to pair. */
  private coverFromSpares(): boolean {
    // While starting, members are still starting too: the first view is the one asked for.
    if (this.stopped || this.holdingViews) return false;
    const outOfView = (s: SlotState) =>
      s.role === 'member' &&
      (s.phase.kind === 'starting' || s.phase.kind === 'faulty' || s.phase.kind === 'backing-off');
    // Every heartbeat ends here: at rest, one pass and no allocation.
    let any = false;
    for (const s of this.slots.values()) any ||= outOfView(s);
    if (!any) return false;
    const byId = (a: SlotState, b: SlotState) => a.id.localeCompare(b.id, 'en', { numeric: true });
    const slots = [...this.slots.values()].sort(byId);
    const needy = slots.filter(outOfView);
    const spares = freeSpares(slots, this.mover?.id);
    const pairs = Math.min(needy.length, spares.length);
    const swaps: [string, SlotEvent][] = [];
    for (let i = 0; i < pairs; i++) {
      const member = needy[i] as SlotState;
      const spare = spares[i] as SlotState;
      swaps.push(
        [spare.id, { type: 'promote', incarnation: spare.incarnation, replacing: member.id }],
        [member.id, { type: 'covered', incarnation: member.incarnation, by: spare.id }],
      );
    }
    this.queue.unshift(...swaps);
    return pairs > 0;
  }

  /**
   * Proactive recovery: one serving replica at a time whose memory or age passed
   * its threshold leaves the view as a warm spare joins it, then drains. Only
   * while a spare is ready: rejuvenating must never shrink the view.
   */
  private rejuvenate(): void {
    const slots = [...this.slots.values()];
    if (this.stopped || slots.some((s) => s.phase.kind === 'draining')) return;
    const [spare] = freeSpares(slots, this.mover?.id);
    if (!spare) return;
    const { maxRssBytes, maxAgeMs } = this.options.rejuvenate ?? {};
    const nowMs = Date.now();
    for (const slot of slots.filter(isServing)) {
      const { pid } = slot.phase;
      if (pid === undefined) continue;
      const rss = maxRssBytes === undefined ? undefined : this.launcher.residentBytes(slot.id, pid);
      const ageMs = nowMs - slot.startedAtMs;
      const why =
        rss !== undefined && maxRssBytes !== undefined && rss >= maxRssBytes
          ? `resident memory ${rss} bytes ≥ ${maxRssBytes}`
          : maxAgeMs !== undefined && ageMs >= maxAgeMs
            ? `age ${ageMs} ms ≥ ${maxAgeMs}`
            : undefined;
      if (!why) continue;
      this.dispatchAll([
        [spare.id, { type: 'promote', incarnation: spare.incarnation, replacing: slot.id }],
        [slot.id, { type: 'retire', incarnation: slot.incarnation, why }],
      ]);
      return;
    }
  }

  /**
   * A host that came back gets its replicas back, one at a time, the way
   * rejuvenation replaces one: a warm spare joins the view as the moving replica
   * drains, and the slot's next process, the new spare, is placed on its home.
   * Only while a spare is ready: moving must never shrink the view.
   */
  private moveHome(): void {
    const slots = [...this.slots.values()];
    if (this.stopped || slots.some((s) => s.phase.kind === 'draining')) return;
    if (this.mover) {
      this.finishMove(this.mover);
      return;
    }
    const spare = slots.find((s) => s.phase.kind === 'spare');
    if (!spare) {
      if (this.options.spares === 0) this.startMover();
      return;
    }
    for (const move of this.launcher.movesHome(this.isSpare)) {
      const slot = this.slots.get(move.slot);
      if (!slot || !isServing(slot) || slot.id === spare.id) continue;
      this.dispatchAll([
        [spare.id, { type: 'promote', incarnation: spare.incarnation, replacing: slot.id }],
        [slot.id, { type: 'retire', incarnation: slot.incarnation, why: `moving home to host ${move.host}` }],
      ]);
      return;
    }
  }

  /**
   * Moving home with no warm spare (--spares 0): a process of a new slot, one
   * whose home is the returned host, starts there as a spare (placement puts it
   * on its home, which holds the fewest),
   * then joins the view as the away replica drains (finishMove). The view never
   * shrinks, and the away slot is removed once drained, so the slots stay as many.
   */
  private readonly isSpare = (id: string): boolean => this.slots.get(id)?.phase.kind === 'spare';

  private startMover(): void {
    const move = this.launcher.movesHome(this.isSpare).find((m) => {
      const slot = this.slots.get(m.slot);
      return slot !== undefined && isServing(slot);
    });
    if (!move) return;
    // The lowest free id whose home is that host: a successor at home is never moved again.
    const hosts = this.launcher.hosts();
    const taken = (n: number) => this.slots.has(`r${n}`) || homeOf(`r${n}`, hosts) !== move.host;
    const limit = (this.slots.size + 1) * Math.max(hosts.length, 1);
    let n = 1;
    while (n <= limit && taken(n)) n += 1;
    if (n > limit) return;
    const id = `r${n}`;
    this.mover = { id, replacing: move.slot, host: move.host };
    this.log.info(
      { replica: id, replacing: move.slot, host: move.host },
      'moving a replica home: starting its successor there',
    );
    this.begin(newSlot(id, Date.now(), 'spare'));
  }

  private finishMove(mover: { id: string; replacing: string; host: string }): void {
    const next = this.slots.get(mover.id);
    const away = this.slots.get(mover.replacing);
    if (next?.role === 'member') {
      // A spare covers any member that fails: this one took a failed member's place, and stays.
      this.mover = undefined;
      return;
    }
    const kind = next?.phase.kind;
    const awayServing = away !== undefined && isServing(away);
    if ((kind === 'starting' || kind === 'not-serving') && awayServing) return;
    this.mover = undefined;
    const pid = next && 'pid' in next.phase ? next.phase.pid : undefined;
    const landed = pid !== undefined && this.launcher.hostOf(mover.id, pid) === mover.host;
    if (next && kind === 'spare' && landed && away && awayServing) {
      this.removing = away.id;
      this.dispatchAll([
        [next.id, { type: 'promote', incarnation: next.incarnation, replacing: away.id }],
        [
          away.id,
          { type: 'retire', incarnation: away.incarnation, why: `moving home to host ${mover.host}` },
        ],
      ]);
      return;
    }
    // It failed, landed elsewhere, or the away replica is gone meanwhile: the extra slot goes, nothing moves.
    if (next) {
      this.log.info({ replica: next.id, replacing: mover.replacing }, 'moving home abandoned');
      this.dispatch(next.id, { type: 'stop' });
      this.removeSlot(next.id);
    }
  }

  /** Forgets a slot whose process is gone or stopping: it is in no view and no registry any more. */
  private removeSlot(id: string): void {
    if (this.removing === id) this.removing = undefined;
    this.slots.delete(id);
    this.children.delete(id);
    clearTimeout(this.respawnTimers.get(id));
    this.respawnTimers.delete(id);
    this.perform(id, { kind: 'stop-heartbeat' });
    this.saveRegistry();
    this.log.info({ replica: id }, 'slot removed after moving home');
  }

  private perform(id: string, effect: Effect): void {
    switch (effect.kind) {
      case 'spawn':
        this.spawn(id, effect.incarnation);
        return;
      case 'detach': {
        this.childOf(id, effect.incarnation)?.detach();
        return;
      }
      case 'kill':
        void this.kill(id, effect.incarnation, effect.pid);
        return;
      case 'terminate':
        this.terminations.push(this.terminate(id, effect.pid));
        return;
      case 'drain':
        void this.drain(id, effect.incarnation, effect.pid);
        return;
      case 'start-heartbeat':
        this.startHeartbeat(id, effect.incarnation, effect.address, effect.pid);
        return;
      case 'stop-heartbeat': {
        const beat = this.heartbeats.get(id);
        if (beat) beat.stopped = true;
        beat?.wake?.();
        beat?.health.close();
        this.heartbeats.delete(id);
        return;
      }
      case 'schedule-respawn':
        clearTimeout(this.respawnTimers.get(id));
        this.respawnTimers.set(
          id,
          setTimeout(() => {
            this.respawnTimers.delete(id);
            this.dispatch(id, { type: 'backoff-elapsed', incarnation: effect.incarnation });
          }, effect.delayMs),
        );
        return;
      case 'cancel-respawn':
        clearTimeout(this.respawnTimers.get(id));
        this.respawnTimers.delete(id);
        return;
      case 'publish-view':
        if (this.dispatching) this.viewDirty = true;
        else this.publish();
        return;
      case 'write-registry':
        this.saveRegistry();
        return;
      case 'count-fault':
        this.stats.faults += 1;
        managerMetrics.faultDetected(this.slots.get(id)?.lastFault?.cause);
        return;
      case 'count-recovery':
        this.stats.recoveries += 1;
        managerMetrics.replaced(this.slots.get(id)?.lastFault?.cause, effect.recoveryMs);
        this.stats.lastRecoveryMs = effect.recoveryMs;
        return;
      case 'log':
        this.log[effect.level](effect.fields, effect.message);
        return;
    }
  }

  private childOf(id: string, incarnation: number): Launch | undefined {
    const current = this.children.get(id);
    return current?.incarnation === incarnation ? current.child : undefined;
  }

  private spawn(id: string, incarnation: number): void {
    if (!this.acting()) return;
    let child: Launch;
    try {
      child = this.launcher.start(id, {
        ...this.options.replica,
        id,
        dataDir: this.options.dataDir,
        ownerPid: this.options.ownerPid,
      });
    } catch (err) {
      // No descriptor or process to be had (EMFILE, EAGAIN, no host reachable, …): a failed
      // start like any other, so that back-off applies instead of the slot starting forever.
      const message = err instanceof Error ? err.message : String(err);
      this.dispatch(id, { type: 'start-failed', incarnation, message });
      return;
    }
    this.children.set(id, { incarnation, child });
    if (child.pid !== undefined) this.dispatch(id, { type: 'spawned', incarnation, pid: child.pid });
    child.onExit((code, signal) => this.dispatch(id, { type: 'exited', incarnation, code, signal }));
    const handled = child.ready.then(
      ({ pid, address }) => {
        // A remote replica's pid comes with its ready.
        if (child.pid === undefined) this.dispatch(id, { type: 'spawned', incarnation, pid });
        this.dispatch(id, { type: 'ready', incarnation, address });
      },
      (err: Error) => this.dispatch(id, { type: 'start-failed', incarnation, message: err.message }),
    );
    this.firstSpawns?.push(handled);
  }

  /**
   * SIGKILL, unless gone or (for an adopted pid) no longer a hedge replica; then `killed`.
   * A replica on a host the manager cannot reach is not killed (it cannot be): it is
   * replaced all the same, and the launcher kills it once its host is back.
   */
  private async kill(id: string, incarnation: number, pid: number | undefined): Promise<void> {
    if (!this.acting()) return;
    if (pid !== undefined) {
      const sent = await this.launcher.signal(id, pid, 'SIGKILL');
      const ended = sent === 'sent' ? await this.launcher.waitForExit(id, pid, 5_000) : sent;
      if (ended === 'timeout') {
        this.log.error(
          { replica: id, replicaPid: pid },
          'a killed replica did not exit within 5 s; replacing it anyway',
        );
      } else if (ended === 'unreachable') {
        this.log.warn(
          { replica: id, replicaPid: pid, host: this.launcher.hostOf(id, pid) },
          'cannot reach the host of a faulty replica; replacing it without killing it (it is killed once its host is back)',
        );
      }
    }
    this.dispatch(id, { type: 'killed', incarnation });
  }

  /** A retired replica: SIGTERM once its clients have the view without it, so it finishes its calls; then `drained`. */
  private async drain(id: string, incarnation: number, pid: number | undefined): Promise<void> {
    await delay(DRAIN_NOTICE_MS);
    if (!this.acting()) return;
    if (pid !== undefined && (await this.launcher.signal(id, pid, 'SIGTERM')) === 'sent') {
      if ((await this.launcher.waitForExit(id, pid, DRAIN_GRACE_MS)) === 'timeout') {
        this.log.warn(
          { replica: id, replicaPid: pid },
          'a retired replica did not drain in time; killing it',
        );
        await this.launcher.signal(id, pid, 'SIGKILL');
        await this.launcher.waitForExit(id, pid, 5_000);
      }
    }
    this.dispatch(id, { type: 'drained', incarnation });
  }

  private async terminate(id: string, pid: number | undefined): Promise<void> {
    if (pid === undefined || !this.acting()) return;
    await this.launcher.signal(id, pid, 'SIGCONT');
    if ((await this.launcher.signal(id, pid, 'SIGTERM')) !== 'sent') return;
    if ((await this.launcher.waitForExit(id, pid, this.graceMs)) === 'timeout') {
      await this.launcher.signal(id, pid, 'SIGKILL');
      await this.launcher.waitForExit(id, pid, 5_000);
    }
  }

  /**
   * Health checks every interval, each outcome a `health` event with the signals the
   * machine decides on, until `stop-heartbeat`. The shared process watch (one timer
   * for every watched replica: /proc is cheap where a health check costs both
   * processes a gRPC round trip) reads /proc every processWatchIntervalMs meanwhile
   * and wakes the loop when the process stops or goes, so that it is reported at
   * once, without waiting for the check's deadline or the next check.
   */
  private startHeartbeat(id: string, incarnation: number, address: string, pid: number | undefined): void {
    this.perform(id, { kind: 'stop-heartbeat' });
    const { heartbeatIntervalMs, heartbeatTimeoutMs } = this.options;
    const detector = new PhiAccrual(heartbeatIntervalMs, Date.now());
    // Replaced while the replica's silence is no evidence (see below).
    const beat: Heartbeat = {
      pid,
      health: healthClient(address, HEARTBEAT_CHANNEL_OPTIONS),
      detector,
      stopped: false,
      pausing: false,
      hostMisses: 0,
      latency: new AnswerLatency(),
    };
    this.heartbeats.set(id, beat);
    const stateOf = (): ProcessState => (pid === undefined ? 'gone' : this.launcher.state(id, pid));
    void (async () => {
      // The first check also opens the channel: give it time, so a busy machine's slow
      // connect is not taken for a hang.
      let timeoutMs = Math.max(heartbeatTimeoutMs, FIRST_HEARTBEAT_TIMEOUT_MS);
      while (!beat.stopped) {
        const began = Date.now();
        // Its host's agent silent while the others are heard: a short probe, repeated soon if unanswered.
        const silence = pid === undefined ? undefined : this.launcher.hostSilence(id, pid);
        if (silence) beat.probedSilence = silence.sinceMs;
        let process = stateOf();
        let answer: HealthAnswer;
        let readyBefore = false;
        if (process === 'running') {
          const woken = Symbol('woken');
          const checkMs = silence ? beat.latency.probeDeadlineMs(beat.hostMisses) : timeoutMs;
          readyBefore = channelReady(beat);
          const sent = Date.now();
          const checked = await Promise.race([this.probe(id, checkMs), wakeOf(beat, woken)]);
          beat.wake = undefined;
          answer = checked === woken ? undefined : (checked as HealthAnswer);
          if (answer !== undefined) beat.latency.answered(Date.now() - sent);
          process = answer === undefined ? stateOf() : 'running';
        }
        if (beat.stopped) return;
        const nowMs = Date.now();
        // Its host silent and no majority of hosts heard, the manager learns nothing of this
        // replica (it may be the one cut off): its silence starts over once the manager hears
        // again, rather than counting against the replica.
        const counts = answer !== undefined || this.launcher.silenceCounts(id, pid);
        if (answer !== undefined) beat.detector.answered(nowMs);
        else if (!counts) beat.detector = new PhiAccrual(heartbeatIntervalMs, nowMs);
        timeoutMs =
          answer !== undefined ? heartbeatTimeoutMs : Math.min(timeoutMs * 2, MAX_HEARTBEAT_TIMEOUT_MS);
        // A miss counts against the replica only if its host is still silent and the others
        // still heard once the probe ended; otherwise the count starts over.
        const still =
          answer === undefined && silence && pid !== undefined
            ? this.launcher.hostSilence(id, pid)
            : undefined;
        // A probe that began or ended with the channel reconnecting proves nothing either way (a
        // reset connection is redialled, through a slow link in seconds); one that stays down
        // longer is a silence like any other (a partition's connection is dropped by keepalive).
        const readyAfter = channelReady(beat);
        if (readyBefore && readyAfter) beat.unreadySinceMs = undefined;
        else beat.unreadySinceMs ??= readyBefore ? nowMs : began;
        const reconnecting =
          beat.unreadySinceMs !== undefined && nowMs - beat.unreadySinceMs < RECONNECT_GRACE_MS;
        if (!still) beat.hostMisses = 0;
        else if (!reconnecting) beat.hostMisses += 1;
        const signals = {
          process,
          phi: beat.detector.phi(nowMs),
          silentMs: beat.detector.silentMs(nowMs),
          host: still && { silentMs: still.silentMs, misses: beat.hostMisses },
        };
        if (counts) this.dispatch(id, { type: 'health', incarnation, answer, signals });
        const left = began + (still ? HOST_PROBE_INTERVAL_MS : heartbeatIntervalMs) - Date.now();
        if (left > 0 && !beat.stopped) await pause(beat, left);
      }
    })();
  }

  /**
   * One timer for every heartbeat: a process that stopped or went wakes its loop,
   * and so, once per silence, does its host's agent going silent while the others
   * are heard (the probes start then, not at the next heartbeat).
   */
  private watchProcesses(): void {
    for (const [id, beat] of this.heartbeats) {
      if (!beat.wake) continue;
      if (beat.pid === undefined || this.launcher.state(id, beat.pid) !== 'running') {
        beat.wake();
        continue;
      }
      const silence = beat.pausing ? this.launcher.hostSilence(id, beat.pid) : undefined;
      if (silence && beat.probedSilence !== silence.sinceMs) beat.wake();
    }
  }

  /** The current process's health, through its heartbeat's channel; undefined if it does not answer. */
  private async probe(id: string, timeoutMs = this.options.heartbeatTimeoutMs): Promise<HealthAnswer> {
    const beat = this.heartbeats.get(id);
    if (!beat || beat.pid === undefined || this.launcher.state(id, beat.pid) === 'gone') return undefined;
    return answerOf(beat.health, timeoutMs);
  }

  /** A registered replica that is still that live replica and answers its health check. */
  private async adoptable(entry: RegistryEntry): Promise<'SERVING' | 'NOT_SERVING' | undefined> {
    if (!entry.address || !(await this.launcher.adoptable(entry))) return undefined;
    const client = healthClient(entry.address);
    try {
      return await answerOf(client, 1_000);
    } finally {
      client.close();
    }
  }

  private publish(): void {
    if (this.holdingViews || !this.acting()) return;
    this.membership.publish(this.serving());
    this.saveRegistry();
  }

  private saveRegistry(): void {
    if (!this.acting()) return;
    writeRegistry(this.options.registryPath, {
      view: this.membership.viewNumber,
      replicas: [...this.slots.values()].flatMap((s) => {
        const entry = registryEntry(s);
        const host = entry && this.launcher.hostOf(entry.id, entry.pid);
        return entry ? [host === undefined ? entry : { ...entry, host }] : [];
      }),
    });
  }
}

async function answerOf(client: ReturnType<typeof healthClient>, timeoutMs: number): Promise<HealthAnswer> {
  try {
    const status = await checkHealth(client, timeoutMs);
    return status === 'SERVING' || status === 'NOT_SERVING' ? status : undefined;
  } catch {
    return undefined;
  }
}
