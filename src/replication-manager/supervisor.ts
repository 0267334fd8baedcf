import type { ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { checkHealth, healthClient } from '../common/health.js';
import { spawnHedge } from '../common/hedge-process.js';
import type { Logger } from '../common/logger.js';
import { commandLine, isAlive, signalQuietly } from '../common/process-state.js';
import type { Member } from '../gen/hedge/v1/Member.js';
import type { ReplicaState } from '../gen/hedge/v1/ReplicaState.js';
import type { ReplicaStatus } from '../gen/hedge/v1/ReplicaStatus.js';
import type { MembershipPublisher } from './membership.js';
import { type Registry, writeRegistry } from './registry.js';
import { backoffMs, QUICK_FAILURE_MS } from './slot-machine.js';

export interface SupervisorOptions {
  dataDir: string;
  databaseUrl: string;
  /** Replicas to keep serving. */
  replicas: number;
  /** The floor below which deliberate removals (the fault injector) must not go. */
  minimum: number;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
  /** Consecutive failed heartbeats that make a replica faulty. */
  heartbeatMisses: number;
  /** Extra arguments for every replica (dedup strategy, pool size, fault injection). */
  replicaArgs: string[];
  /** Replicas exit when this process is gone (`hedge up`). */
  ownerPid?: number;
  registryPath: string;
  logDir: string;
}

export type FaultCause = 'exit' | 'heartbeat' | 'client report' | 'start';

/** not-serving: alive and answering, but without the database (its health says NOT_SERVING). */
type SlotState = 'starting' | 'serving' | 'not-serving' | 'faulty' | 'backing-off';

/** A health check's outcome; undefined when the replica did not answer. */
type HealthAnswer = 'SERVING' | 'NOT_SERVING' | undefined;

const STATE_NAMES: Record<SlotState, ReplicaState> = {
  starting: 'REPLICA_STATE_STARTING',
  serving: 'REPLICA_STATE_SERVING',
  faulty: 'REPLICA_STATE_FAULTY',
  'backing-off': 'REPLICA_STATE_BACKING_OFF',
  'not-serving': 'REPLICA_STATE_NOT_SERVING',
};

const FIRST_HEARTBEAT_TIMEOUT_MS = 1_000;

/**
 * One member position (r1, r2, …). Its process is replaced when faulty; the
 * replacement keeps the id. `incarnation` tells events of an old process from
 * those of the current one.
 */
interface Slot {
  id: string;
  state: SlotState;
  incarnation: number;
  pid?: number;
  address?: string;
  /** Our child, unless the process was adopted from an earlier manager. */
  child?: ChildProcess;
  health?: ReturnType<typeof healthClient>;
  startedAtMs: number;
  servingSinceMs?: number;
  restarts: number;
  quickFailures: number;
  lastFault?: { what: string; cause: FaultCause; atMs: number };
  /** When the current fault was detected, to time the recovery. */
  faultDetectedAtMs?: number;
  probe?: Promise<HealthAnswer>;
  respawnTimer?: NodeJS.Timeout;
}

export interface SupervisorStats {
  faults: number;
  recoveries: number;
  lastRecoveryMs: number;
}

/**
 * Owns the replica processes: spawns them (detached, so that they outlive a
 * manager that dies), watches them three ways (their exit, heartbeat health
 * checks that also catch a hung process, and client reports confirmed by a probe
 * of its own), kills faulty ones with SIGKILL and replaces them, with back-off
 * when replacements fail in a loop. Every change of the serving set is published
 * as a new view and written to the registry.
 */
export class Supervisor {
  private readonly slots = new Map<string, Slot>();
  private stopped = false;
  /** While starting, views wait until every slot has been adopted or spawned: one view, not one per replica. */
  private holdingViews = true;
  readonly stats: SupervisorStats = { faults: 0, recoveries: 0, lastRecoveryMs: 0 };

  constructor(
    private readonly options: SupervisorOptions,
    private readonly membership: MembershipPublisher,
    private readonly log: Logger,
  ) {}

  /** Adopts live replicas from an earlier manager's registry, then fills every empty slot. */
  async start(previous: Registry | undefined): Promise<void> {
    for (const entry of previous?.replicas ?? []) {
      const slot: Slot = {
        id: entry.id,
        state: 'starting',
        incarnation: 1,
        pid: entry.pid,
        address: entry.address,
        startedAtMs: entry.startedAtMs,
        restarts: entry.restarts,
        quickFailures: 0,
        lastFault: entry.lastFault as Slot['lastFault'],
      };
      const answer = await this.adoptable(slot);
      if (answer) {
        this.slots.set(slot.id, slot);
        this.log.info(
          { replica: slot.id, replicaPid: slot.pid, address: slot.address, health: answer },
          'adopted a running replica',
        );
        this.serve(slot, slot.incarnation, answer === 'SERVING');
      } else if (slot.pid !== undefined && isHedgeReplica(slot.pid)) {
        this.log.warn(
          { replica: slot.id, replicaPid: slot.pid },
          'a registered replica does not answer; killing it',
        );
        killQuietly(slot.pid);
      }
    }
    const spawns: Promise<void>[] = [];
    for (let i = 1; i <= this.options.replicas; i++) {
      const id = `r${i}`;
      if (this.slots.has(id)) continue;
      const slot: Slot = {
        id,
        state: 'starting',
        incarnation: 0,
        startedAtMs: Date.now(),
        restarts: 0,
        quickFailures: 0,
      };
      this.slots.set(id, slot);
      spawns.push(this.spawn(slot));
    }
    await Promise.all(spawns);
    this.holdingViews = false;
    this.publish();
  }

  serving(): Member[] {
    return [...this.slots.values()]
      .filter((s) => s.state === 'serving')
      .map((s) => ({ id: s.id, address: s.address ?? '' }))
      .sort((a, b) => (a.id ?? '').localeCompare(b.id ?? '', 'en', { numeric: true }));
  }

  status(): ReplicaStatus[] {
    return [...this.slots.values()]
      .sort((a, b) => a.id.localeCompare(b.id, 'en', { numeric: true }))
      .map((s) => ({
        id: s.id,
        pid: s.pid ?? 0,
        address: s.address ?? '',
        state: STATE_NAMES[s.state],
        started_at_ms: String(s.startedAtMs),
        restarts: s.restarts,
        last_fault: s.lastFault?.what ?? '',
        last_fault_cause: s.lastFault?.cause ?? '',
        last_fault_at_ms: String(s.lastFault?.atMs ?? 0),
        serving_since_ms: String(s.state === 'serving' ? (s.servingSinceMs ?? 0) : 0),
      }));
  }

  /**
   * A client saw an infrastructure failure from a replica. Acts only if the
   * manager's own probe fails too, so a client cannot get a healthy replica killed.
   */
  async report(idOrAddress: { id?: string; address?: string }, what: string): Promise<boolean> {
    const slot = [...this.slots.values()].find(
      (s) =>
        (idOrAddress.id && s.id === idOrAddress.id) ||
        (idOrAddress.address && s.address === idOrAddress.address),
    );
    if (slot?.state !== 'serving') return false;
    // A late report about the process this slot had before must not get its replacement killed.
    if (idOrAddress.address && slot.address !== idOrAddress.address) return false;
    const incarnation = slot.incarnation;
    slot.probe ??= this.probe(slot).finally(() => {
      slot.probe = undefined;
    });
    const answer = await slot.probe;
    // NOT_SERVING answers too: the replica is alive, the database is away (the heartbeat takes it out of the view).
    if (answer) {
      this.log.info(
        { replica: slot.id, report: what, health: answer },
        'a client reported a fault the probe did not confirm',
      );
      return false;
    }
    this.fault(slot, incarnation, `client reported: ${what}`, 'client report');
    return true;
  }

  /** Stops every replica: SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 5_000): Promise<void> {
    this.stopped = true;
    await Promise.all(
      [...this.slots.values()].map(async (slot) => {
        clearTimeout(slot.respawnTimer);
        slot.health?.close();
        const pid = slot.pid;
        slot.state = 'faulty';
        if (pid === undefined || !isAlive(pid) || (!slot.child && !isHedgeReplica(pid))) return;
        signalQuietly(pid, 'SIGCONT');
        signalQuietly(pid, 'SIGTERM');
        if (!(await waitForExit(pid, slot.child, graceMs))) {
          killQuietly(pid);
          await waitForExit(pid, slot.child, 5_000);
        }
      }),
    );
    this.slots.clear();
    this.saveRegistry();
  }

  private async spawn(slot: Slot): Promise<void> {
    slot.incarnation += 1;
    const incarnation = slot.incarnation;
    slot.state = 'starting';
    slot.startedAtMs = Date.now();
    slot.servingSinceMs = undefined;
    slot.address = undefined;
    const output = openSync(join(this.options.logDir, `replica-${slot.id}.log`), 'a');
    let spawned: ReturnType<typeof spawnHedge>;
    try {
      spawned = spawnHedge(
        [
          'replica',
          '--id',
          slot.id,
          '--data-dir',
          this.options.dataDir,
          ...(this.options.ownerPid ? ['--owner-pid', String(this.options.ownerPid)] : []),
          ...this.options.replicaArgs,
        ],
        // The URL carries a password: the environment is private to the user, argv is not.
        { detached: true, output, readyTimeoutMs: 20_000, env: { DATABASE_URL: this.options.databaseUrl } },
      );
    } finally {
      // The child has its own copy of the descriptor.
      closeSync(output);
    }
    const { child, ready } = spawned;
    slot.child = child;
    slot.pid = child.pid;
    // Registered at once, so that a manager that dies before the replica is ready
    // has a successor that finds and kills it instead of leaking it.
    this.saveRegistry();
    child.once('exit', (code, signal) => {
      if (slot.incarnation === incarnation) slot.pid = undefined;
      if (slot.incarnation === incarnation && slot.state !== 'faulty') {
        this.fault(slot, incarnation, `exited (code ${code}, signal ${signal})`, 'exit');
      }
    });
    try {
      const message = await ready;
      if (slot.incarnation !== incarnation || this.stopped) return;
      // The replica must not depend on this process from now on.
      child.disconnect();
      slot.address = String(message.address);
      this.serve(slot, incarnation);
    } catch (err) {
      if (slot.incarnation === incarnation && slot.state === 'starting') {
        this.fault(slot, incarnation, `failed to start: ${(err as Error).message}`, 'start');
      }
    }
  }

  /** Starts heartbeats of a replica that answers; one without the database waits outside the view. */
  private serve(slot: Slot, incarnation: number, serving = true): void {
    slot.state = serving ? 'serving' : 'not-serving';
    slot.servingSinceMs = serving ? Date.now() : undefined;
    slot.health = healthClient(slot.address ?? '', { 'grpc.initial_reconnect_backoff_ms': 50 });
    if (slot.faultDetectedAtMs !== undefined) {
      this.stats.recoveries += 1;
      this.stats.lastRecoveryMs = Date.now() - slot.faultDetectedAtMs;
      this.log.info(
        { replica: slot.id, replicaPid: slot.pid, recoveryMs: this.stats.lastRecoveryMs },
        'replacement serving and in the view',
      );
      slot.faultDetectedAtMs = undefined;
    }
    this.publish();
    void this.heartbeat(slot, incarnation);
  }

  /**
   * Health checks every interval; `heartbeatMisses` unanswered in a row make the
   * replica faulty. NOT_SERVING is an answer: the replica leaves the view until it
   * reports SERVING again, and is not replaced.
   */
  private async heartbeat(slot: Slot, incarnation: number): Promise<void> {
    let misses = 0;
    // The first check also opens the channel: give it time, so a busy machine's slow
    // connect is not taken for a hang.
    let timeoutMs = Math.max(this.options.heartbeatTimeoutMs, FIRST_HEARTBEAT_TIMEOUT_MS);
    const watched = () =>
      !this.stopped &&
      slot.incarnation === incarnation &&
      (slot.state === 'serving' || slot.state === 'not-serving');
    while (watched()) {
      const began = Date.now();
      const answer = await this.probe(slot, timeoutMs);
      timeoutMs = this.options.heartbeatTimeoutMs;
      if (!watched()) return;
      const healthy = answer !== undefined;
      misses = healthy ? 0 : misses + 1;
      if (answer) this.setServing(slot, answer === 'SERVING');
      if (!healthy && (slot.pid === undefined || !isAlive(slot.pid))) {
        // Gone before or while being probed (its sockets close before its exit is reported; an
        // adopted replica is not our child, so its exit shows up only here): an exit, not a hang.
        this.fault(slot, incarnation, 'the process is gone', 'exit');
        return;
      }
      if (misses >= this.options.heartbeatMisses) {
        this.fault(
          slot,
          incarnation,
          `${misses} heartbeat(s) unanswered within ${this.options.heartbeatTimeoutMs} ms`,
          'heartbeat',
        );
        return;
      }
      await delay(Math.max(0, this.options.heartbeatIntervalMs - (Date.now() - began)));
    }
  }

  /** Into the view or out of it, as the replica's own health says. */
  private setServing(slot: Slot, serving: boolean): void {
    if ((slot.state === 'serving') === serving) return;
    slot.state = serving ? 'serving' : 'not-serving';
    slot.servingSinceMs = serving ? Date.now() : undefined;
    if (serving) this.log.info({ replica: slot.id }, 'replica serving again; back in the view');
    else
      this.log.warn({ replica: slot.id }, 'replica NOT_SERVING (no database); out of the view, not replaced');
    this.publish();
  }

  private async probe(slot: Slot, timeoutMs = this.options.heartbeatTimeoutMs): Promise<HealthAnswer> {
    if (slot.pid === undefined || !isAlive(slot.pid) || !slot.health) return undefined;
    return answerOf(slot.health, timeoutMs);
  }

  private async adoptable(slot: Slot): Promise<HealthAnswer> {
    if (slot.pid === undefined || !slot.address || !isAlive(slot.pid) || !isHedgeReplica(slot.pid))
      return undefined;
    const client = healthClient(slot.address);
    try {
      return await answerOf(client, 1_000);
    } finally {
      client.close();
    }
  }

  /** Takes the replica out of the view, kills it, and schedules its replacement. */
  private fault(slot: Slot, incarnation: number, what: string, cause: FaultCause): void {
    if (
      slot.incarnation !== incarnation ||
      slot.state === 'faulty' ||
      slot.state === 'backing-off' ||
      this.stopped
    )
      return;
    const wasServing = slot.state === 'serving';
    const servedMs = slot.servingSinceMs === undefined ? 0 : Date.now() - slot.servingSinceMs;
    slot.state = 'faulty';
    slot.lastFault = { what, cause, atMs: Date.now() };
    slot.faultDetectedAtMs ??= Date.now();
    this.stats.faults += 1;
    this.log.warn(
      { replica: slot.id, replicaPid: slot.pid, cause, fault: what },
      'replica faulty; replacing it',
    );
    slot.health?.close();
    slot.health = undefined;
    // A replica that never served is not in the view, but it was in the registry.
    if (wasServing) this.publish();
    else this.saveRegistry();
    slot.quickFailures = servedMs < QUICK_FAILURE_MS ? slot.quickFailures + 1 : 0;
    const pid = slot.pid;
    const child = slot.child;
    void (async () => {
      // An adopted process is signalled only while its pid still names a hedge replica.
      if (pid !== undefined && isAlive(pid) && (child || isHedgeReplica(pid))) {
        killQuietly(pid);
        if (!(await waitForExit(pid, child, 5_000))) {
          this.log.error(
            { replica: slot.id, replicaPid: pid },
            'a killed replica did not exit within 5 s; replacing it anyway',
          );
        }
      }
      if (slot.incarnation === incarnation) slot.pid = undefined;
      if (this.stopped || slot.incarnation !== incarnation) return;
      const delay = backoffMs(slot.quickFailures);
      slot.restarts += 1;
      if (delay === 0) {
        await this.spawn(slot);
        return;
      }
      slot.state = 'backing-off';
      this.log.warn(
        { replica: slot.id, delayMs: delay, quickFailures: slot.quickFailures },
        'backing off before respawning',
      );
      clearTimeout(slot.respawnTimer);
      slot.respawnTimer = setTimeout(() => void this.spawn(slot), delay);
    })();
  }

  private publish(): void {
    if (this.holdingViews) return;
    this.membership.publish(this.serving());
    this.saveRegistry();
  }

  /** Serving replicas (or ones waiting for the database), to be adopted; starting ones (no address yet), to be killed by a successor. */
  private saveRegistry(): void {
    writeRegistry(this.options.registryPath, {
      view: this.membership.viewNumber,
      replicas: [...this.slots.values()]
        .filter(
          (s) =>
            (s.state === 'serving' || s.state === 'not-serving' || s.state === 'starting') &&
            s.pid !== undefined,
        )
        .map((s) => ({
          id: s.id,
          pid: s.pid as number,
          address: s.address ?? '',
          startedAtMs: s.startedAtMs,
          restarts: s.restarts,
          lastFault: s.lastFault,
        })),
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
