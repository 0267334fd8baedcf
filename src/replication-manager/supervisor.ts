import type { ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { checkHealth, healthClient } from '../common/health.js';
import { spawnHedge } from '../common/hedge-process.js';
import type { Logger } from '../common/logger.js';
import {
  commandLine,
  isAlive,
  type ProcessState,
  processState,
  signalQuietly,
} from '../common/process-state.js';
import { HEARTBEAT_CHANNEL_OPTIONS } from '../common/rpc.js';
import { type ReplicaSettings, replicaArgs } from '../common/settings.js';
import type { Member } from '../gen/hedge/v1/Member.js';
import type { ReplicaStatus } from '../gen/hedge/v1/ReplicaStatus.js';
import { managerMetrics } from './manager-metrics.js';
import type { MembershipPublisher } from './membership.js';
import { PhiAccrual } from './phi-accrual.js';
import { type Registry, type RegistryEntry, writeRegistry } from './registry.js';
import {
  addressOf,
  adoptedSlot,
  type Effect,
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
  /** The floor below which deliberate removals (the fault injector) must not go. */
  minimum: number;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
  /** Consecutive failed heartbeats below which a running replica is never faulty. */
  heartbeatMisses: number;
  /** What every replica is started with (dedup strategy, pool size, fault injection, …). */
  replica: Omit<ReplicaSettings, 'id' | 'dataDir' | 'ownerPid'>;
  /** Replicas exit when this process is gone (`hedge up`). */
  ownerPid?: number;
  registryPath: string;
  logDir: string;
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

/** A slot's running heartbeat; `stopped` ends its loop. */
interface Heartbeat {
  health: ReturnType<typeof healthClient>;
  pid?: number;
  /** The suspicion over this process's answer times, which a client's report is judged by too. */
  detector: PhiAccrual;
  stopped: boolean;
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
  /** The child process of a slot's incarnation; none for an adopted replica. */
  private readonly children = new Map<string, { incarnation: number; child: ChildProcess }>();
  private readonly heartbeats = new Map<string, Heartbeat>();
  private readonly respawnTimers = new Map<string, NodeJS.Timeout>();
  /** One probe at a time per slot, shared by concurrent client reports. */
  private readonly probes = new Map<string, Promise<HealthAnswer>>();
  /** Events raised while effects are performed wait here: transitions never nest. */
  private readonly queue: [string, SlotEvent][] = [];
  private dispatching = false;
  private stopped = false;
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
  ) {}

  /** Adopts live replicas from an earlier manager's registry, then fills every empty slot. */
  async start(previous: Registry | undefined): Promise<void> {
    // Probed together: a replica that does not answer costs its 1 s timeout once, not once per replica.
    const entries = previous?.replicas ?? [];
    const answers = await Promise.all(entries.map((entry) => adoptable(entry)));
    for (const [i, entry] of entries.entries()) {
      const answer = answers[i];
      if (answer) {
        this.log.info(
          { replica: entry.id, replicaPid: entry.pid, address: entry.address, health: answer },
          'adopted a running replica',
        );
        this.begin(adoptedSlot(entry, answer, Date.now()));
      } else if (isHedgeReplica(entry.pid)) {
        this.log.warn(
          { replica: entry.id, replicaPid: entry.pid },
          'a registered replica does not answer; killing it',
        );
        killQuietly(entry.pid);
      }
    }
    this.firstSpawns = [];
    for (let i = 1; i <= this.options.replicas; i++) {
      const id = `r${i}`;
      if (!this.slots.has(id)) this.begin(newSlot(id, Date.now()));
    }
    await Promise.all(this.firstSpawns);
    this.firstSpawns = undefined;
    this.holdingViews = false;
    this.publish();
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
      .map(replicaStatus);
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
    const nowMs = Date.now();
    const signals = {
      process: beat.pid === undefined ? ('gone' as const) : processState(beat.pid),
      phi: beat.detector.phi(nowMs),
      silentMs: beat.detector.silentMs(nowMs),
    };
    this.dispatch(id, { type: 'client-report', incarnation, what: `client reported: ${what}`, signals });
    const after = this.slots.get(id);
    return after?.incarnation === incarnation && after.phase.kind === 'faulty';
  }

  /** Stops every replica: SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 5_000): Promise<void> {
    this.stopped = true;
    this.graceMs = graceMs;
    for (const id of this.slots.keys()) this.dispatch(id, { type: 'stop' });
    await Promise.all(this.terminations);
    this.terminations = [];
    this.slots.clear();
    this.saveRegistry();
  }

  /** A slot's first state: taken as it is, its effects performed. */
  private begin({ state, effects }: Transition): void {
    if (this.stopped) return;
    this.slots.set(state.id, state);
    for (const effect of effects) this.perform(state.id, effect);
  }

  /** Feeds an event to the slot's machine and performs the effects, one event at a time. */
  private dispatch(id: string, event: SlotEvent): void {
    this.queue.push([id, event]);
    if (this.dispatching) return;
    this.dispatching = true;
    try {
      for (let next = this.queue.shift(); next; next = this.queue.shift()) {
        const [slotId, slotEvent] = next;
        const state = this.slots.get(slotId);
        if (!state) continue;
        const result = transition(state, slotEvent, {
          nowMs: Date.now(),
          heartbeatMisses: this.options.heartbeatMisses,
        });
        this.slots.set(slotId, result.state);
        for (const effect of result.effects) this.perform(slotId, effect);
      }
    } finally {
      this.dispatching = false;
    }
  }

  private perform(id: string, effect: Effect): void {
    switch (effect.kind) {
      case 'spawn':
        this.spawn(id, effect.incarnation);
        return;
      case 'detach': {
        const child = this.childOf(id, effect.incarnation);
        if (child?.connected) child.disconnect();
        return;
      }
      case 'kill':
        void this.kill(id, effect.incarnation, effect.pid);
        return;
      case 'terminate':
        this.terminations.push(this.terminate(effect.pid, this.childOf(id, effect.incarnation)));
        return;
      case 'start-heartbeat':
        this.startHeartbeat(id, effect.incarnation, effect.address, effect.pid);
        return;
      case 'stop-heartbeat': {
        const beat = this.heartbeats.get(id);
        if (beat) beat.stopped = true;
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
        this.publish();
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

  private childOf(id: string, incarnation: number): ChildProcess | undefined {
    const current = this.children.get(id);
    return current?.incarnation === incarnation ? current.child : undefined;
  }

  private spawn(id: string, incarnation: number): void {
    let spawned: ReturnType<typeof spawnHedge>;
    try {
      spawned = this.spawnReplica(id);
    } catch (err) {
      // No descriptor or process to be had (EMFILE, EAGAIN, …): a failed start like any other,
      // so that back-off applies instead of the slot starting forever.
      const message = err instanceof Error ? err.message : String(err);
      this.dispatch(id, { type: 'start-failed', incarnation, message });
      return;
    }
    const { child, ready } = spawned;
    this.children.set(id, { incarnation, child });
    this.dispatch(id, { type: 'spawned', incarnation, pid: child.pid });
    child.once('exit', (code, signal) => this.dispatch(id, { type: 'exited', incarnation, code, signal }));
    const handled = ready.then(
      (message) => this.dispatch(id, { type: 'ready', incarnation, address: String(message.address) }),
      (err: Error) => this.dispatch(id, { type: 'start-failed', incarnation, message: err.message }),
    );
    this.firstSpawns?.push(handled);
  }

  private spawnReplica(id: string): ReturnType<typeof spawnHedge> {
    const output = openSync(join(this.options.logDir, `replica-${id}.log`), 'a');
    try {
      return spawnHedge(
        replicaArgs({
          ...this.options.replica,
          id,
          dataDir: this.options.dataDir,
          ownerPid: this.options.ownerPid,
        }),
        // The URL carries a password: the environment is private to the user, argv is not.
        { detached: true, output, readyTimeoutMs: 20_000, env: { DATABASE_URL: this.options.databaseUrl } },
      );
    } finally {
      // The child has its own copy of the descriptor.
      closeSync(output);
    }
  }

  /** SIGKILL, unless gone or (for an adopted pid) no longer a hedge replica; then `killed`. */
  private async kill(id: string, incarnation: number, pid: number | undefined): Promise<void> {
    const child = this.childOf(id, incarnation);
    if (pid !== undefined && isAlive(pid) && (child || isHedgeReplica(pid))) {
      killQuietly(pid);
      if (!(await waitForExit(pid, child, 5_000))) {
        this.log.error(
          { replica: id, replicaPid: pid },
          'a killed replica did not exit within 5 s; replacing it anyway',
        );
      }
    }
    this.dispatch(id, { type: 'killed', incarnation });
  }

  private async terminate(pid: number | undefined, child: ChildProcess | undefined): Promise<void> {
    if (pid === undefined || !isAlive(pid) || (!child && !isHedgeReplica(pid))) return;
    signalQuietly(pid, 'SIGCONT');
    signalQuietly(pid, 'SIGTERM');
    if (!(await waitForExit(pid, child, this.graceMs))) {
      killQuietly(pid);
      await waitForExit(pid, child, 5_000);
    }
  }

  /**
   * Health checks every interval, each outcome a `health` event with the signals the
   * machine decides on, until `stop-heartbeat`. The process's /proc state is read
   * before each check and every interval while one is pending, so that a stopped
   * process is reported without waiting for the check's deadline.
   */
  private startHeartbeat(id: string, incarnation: number, address: string, pid: number | undefined): void {
    this.perform(id, { kind: 'stop-heartbeat' });
    const { heartbeatIntervalMs, heartbeatTimeoutMs } = this.options;
    const detector = new PhiAccrual(heartbeatIntervalMs, Date.now());
    const beat: Heartbeat = {
      pid,
      health: healthClient(address, HEARTBEAT_CHANNEL_OPTIONS),
      detector,
      stopped: false,
    };
    this.heartbeats.set(id, beat);
    const stateOf = (): ProcessState => (pid === undefined ? 'gone' : processState(pid));
    void (async () => {
      // The first check also opens the channel: give it time, so a busy machine's slow
      // connect is not taken for a hang.
      let timeoutMs = Math.max(heartbeatTimeoutMs, FIRST_HEARTBEAT_TIMEOUT_MS);
      while (!beat.stopped) {
        const began = Date.now();
        let process = stateOf();
        let answer: HealthAnswer;
        if (process === 'running') {
          const checked = await this.probeUnlessStopped(id, timeoutMs, stateOf, heartbeatIntervalMs);
          answer = checked.answer;
          process = answer === undefined ? (checked.process ?? stateOf()) : 'running';
        }
        if (beat.stopped) return;
        const nowMs = Date.now();
        if (answer !== undefined) detector.answered(nowMs);
        timeoutMs =
          answer !== undefined ? heartbeatTimeoutMs : Math.min(timeoutMs * 2, MAX_HEARTBEAT_TIMEOUT_MS);
        const signals = { process, phi: detector.phi(nowMs), silentMs: detector.silentMs(nowMs) };
        this.dispatch(id, { type: 'health', incarnation, answer, signals });
        await delay(Math.max(0, heartbeatIntervalMs - (Date.now() - began)));
      }
    })();
  }

  /** A health check, cut short if the process stops or goes meanwhile (`process` then says which). */
  private async probeUnlessStopped(
    id: string,
    timeoutMs: number,
    stateOf: () => ProcessState,
    everyMs: number,
  ): Promise<{ answer: HealthAnswer; process?: ProcessState }> {
    const done = new AbortController();
    const answered = this.probe(id, timeoutMs).then((answer) => ({ answer }));
    const watched = (async () => {
      for (;;) {
        // Cancelled once the check is over, so that no timer outlives it.
        await delay(everyMs, undefined, { signal: done.signal });
        const process = stateOf();
        if (process !== 'running') return { answer: undefined, process };
      }
    })().catch(() => answered);
    try {
      return await Promise.race([answered, watched]);
    } finally {
      done.abort();
    }
  }

  /** The current process's health, through its heartbeat's channel; undefined if it does not answer. */
  private async probe(id: string, timeoutMs = this.options.heartbeatTimeoutMs): Promise<HealthAnswer> {
    const beat = this.heartbeats.get(id);
    if (!beat || beat.pid === undefined || !isAlive(beat.pid)) return undefined;
    return answerOf(beat.health, timeoutMs);
  }

  private publish(): void {
    if (this.holdingViews) return;
    this.membership.publish(this.serving());
    this.saveRegistry();
  }

  private saveRegistry(): void {
    writeRegistry(this.options.registryPath, {
      view: this.membership.viewNumber,
      replicas: [...this.slots.values()].flatMap((s) => registryEntry(s) ?? []),
    });
  }
}

async function adoptable(entry: RegistryEntry): Promise<'SERVING' | 'NOT_SERVING' | undefined> {
  if (!entry.address || !isAlive(entry.pid) || !isHedgeReplica(entry.pid)) return undefined;
  const client = healthClient(entry.address);
  try {
    return await answerOf(client, 1_000);
  } finally {
    client.close();
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

/** Guards against a recycled pid: only a hedge replica process is ever signalled by pid alone. */
function isHedgeReplica(pid: number): boolean {
  const argv = commandLine(pid);
  return argv.some((a) => a.endsWith('cli.js')) && argv.includes('replica');
}

function killQuietly(pid: number): void {
  signalQuietly(pid, 'SIGKILL');
}

/** Waits for the process to be gone: our child's exit event, or polling for an adopted one. */
async function waitForExit(
  pid: number,
  child: ChildProcess | undefined,
  timeoutMs: number,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  if (child && child.exitCode === null && child.signalCode === null) {
    let timer: NodeJS.Timeout | undefined;
    let onExit = () => {};
    await new Promise<void>((resolve) => {
      onExit = resolve;
      child.once('exit', onExit);
      timer = setTimeout(resolve, timeoutMs);
    });
    clearTimeout(timer);
    child.off('exit', onExit);
  }
  while (isAlive(pid)) {
    if (Date.now() > deadline) return false;
    await delay(10);
  }
  return true;
}
