import { BACKOFF, backoffDelay } from '../common/backoff.js';
import type { ProcessState } from '../common/process-state.js';
import type { ReplicaState } from '../gen/hedge/v1/ReplicaState.js';
import type { ReplicaStatus } from '../gen/hedge/v1/ReplicaStatus.js';
import type { RegistryEntry } from './registry.js';

/**
 * The life of one slot (r1, r2, …: a member of the view or a warm spare) as a pure transition:
 * (state, event) → (state, effects). No processes, timers or channels here; the
 * supervisor performs the effects and feeds back what happened. Every event of a
 * process carries the incarnation it belongs to, so an event of a replaced
 * process is ignored by one rule rather than by guards in each callback.
 */

export type FaultCause = 'exit' | 'heartbeat' | 'client report' | 'start';

/**
 * What the slot's processes are for: a `member` serves in the view; a `spare` is
 * started and warmed up but kept out of it, to take a failed member's place at
 * once. Roles move: a spare that takes a member's place becomes the member, and
 * the failed slot's replacement becomes the spare.
 */
export type Role = 'member' | 'spare';

/** A health check's outcome; undefined when the replica did not answer. */
export type HealthAnswer = 'SERVING' | 'NOT_SERVING' | undefined;

export interface LastFault {
  what: string;
  cause: FaultCause;
  atMs: number;
}

/** Where the slot's current process is in its life, with what is known in that phase. */
export type Phase =
  /** Spawned (pid once the spawn is done), not yet ready. */
  | { kind: 'starting'; pid?: number }
  /** In the view. `misses`: heartbeats unanswered in a row. */
  | { kind: 'serving'; pid?: number; address: string; sinceMs: number; misses: number }
  /** A warm spare: ready and answering its heartbeats, out of the view until promoted. */
  | { kind: 'spare'; pid?: number; address: string; misses: number }
  /** Alive and answering, but without the database: out of the view, not replaced. */
  | { kind: 'not-serving'; pid?: number; address: string; misses: number }
  /** Being killed (pid until it is known to be gone); replaced once the kill is done. */
  | { kind: 'faulty'; pid?: number; address?: string; cause: FaultCause }
  /** Rejuvenated: out of the view, finishing its calls after SIGTERM; replaced once it exits. */
  | { kind: 'draining'; pid?: number; address: string }
  /** Waiting before the replacement is spawned. `address`: the failed process's, still shown. */
  | { kind: 'backing-off'; untilMs: number; address?: string }
  /** The supervisor stopped: every event is ignored. */
  | { kind: 'stopped' };

export type PhaseKind = Phase['kind'];

export interface SlotState {
  id: string;
  role: Role;
  /** Which of the slot's processes the phase is about; bumped by every spawn. */
  incarnation: number;
  startedAtMs: number;
  restarts: number;
  /** Failures in a row of replacements that served under QUICK_FAILURE_MS; drives back-off. */
  quickFailures: number;
  lastFault?: LastFault;
  /** When the current fault was detected, to time the recovery. */
  faultDetectedAtMs?: number;
  phase: Phase;
}

/** Things that happened. All but `stop` are about one incarnation. */
export type SlotEvent =
  | { type: 'spawned'; incarnation: number; pid?: number }
  | { type: 'ready'; incarnation: number; address: string }
  | { type: 'start-failed'; incarnation: number; message: string }
  | { type: 'exited'; incarnation: number; code: number | null; signal: string | null }
  /** A heartbeat's outcome, with what the supervisor saw of the process besides. */
  | { type: 'health'; incarnation: number; answer: HealthAnswer; signals: HealthSignals }
  /**
   * A client's fault report that the supervisor's own probe did not answer, with the
   * heartbeat's signals at that moment: a fault only if they already make one.
   */
  | { type: 'client-report'; incarnation: number; what: string; signals: HealthSignals }
  /** The kill of a faulty process is done (or gave up waiting). */
  | { type: 'killed'; incarnation: number }
  | { type: 'backoff-elapsed'; incarnation: number }
  /** A warm spare takes a member's place: it joins the view. */
  | { type: 'promote'; incarnation: number; replacing: string }
  /** A spare took this member's place: the slot's next process is the spare. */
  | { type: 'covered'; incarnation: number; by: string }
  /** Rejuvenation: a spare took its place; the process drains its calls and exits. */
  | { type: 'retire'; incarnation: number; why: string }
  /** The retired process is gone (exited after SIGTERM, or killed after the grace time). */
  | { type: 'drained'; incarnation: number }
  | { type: 'stop' };

/**
 * What else is known when a heartbeat ends: the process's state in /proc (read
 * after an unanswered check, and while it was pending), the phi-accrual suspicion
 * over its answer times, and how long since it last answered.
 */
export interface HealthSignals {
  process: ProcessState;
  phi: number;
  silentMs: number;
  /**
   * Set while the replica's host agent is silent and the manager still hears a
   * majority of its hosts (so the silence is not its own): how long the agent has
   * been silent, and the short direct probes of the replica unanswered in a row.
   */
  host?: { silentMs: number; misses: number };
}

/** Instructions for the supervisor. */
export type Effect =
  /** Spawn a replica process for the slot; report `spawned`, then `ready` or `start-failed`, and `exited`. */
  | { kind: 'spawn'; incarnation: number }
  /** Cut the spawned child's IPC channel: a ready replica must not depend on the manager. */
  | { kind: 'detach'; incarnation: number }
  /** SIGKILL (if still alive and ours), wait for the exit, then report `killed`. */
  | { kind: 'kill'; incarnation: number; pid?: number }
  /** Leaving the view for good: SIGTERM once clients have the new view, SIGKILL after the grace time; then `drained`. */
  | { kind: 'drain'; incarnation: number; pid?: number }
  /** The supervisor is stopping: SIGTERM, SIGKILL after the grace time. */
  | { kind: 'terminate'; incarnation: number; pid?: number }
  /** Health-check every interval, reporting `health`, until `stop-heartbeat`. */
  | { kind: 'start-heartbeat'; incarnation: number; pid?: number; address: string }
  | { kind: 'stop-heartbeat' }
  | { kind: 'schedule-respawn'; incarnation: number; delayMs: number }
  | { kind: 'cancel-respawn' }
  /** The serving set may have changed: publish the view (which also writes the registry). */
  | { kind: 'publish-view' }
  | { kind: 'write-registry' }
  | { kind: 'count-fault' }
  | { kind: 'count-recovery'; recoveryMs: number }
  | { kind: 'log'; level: 'info' | 'warn'; message: string; fields: Record<string, unknown> };

export interface Transition {
  state: SlotState;
  effects: Effect[];
}

/** What the machine needs besides the state and the event: the clock and the heartbeat floor. */
export interface MachineContext {
  nowMs: number;
  /** Consecutive unanswered heartbeats below which a running replica is never faulty (a floor). */
  heartbeatMisses: number;
}

/**
 * The phi above which a running replica that does not answer is faulty: a chance
 * of 1 in 10^8 that an answer is merely late, by its own recent answer times.
 */
export const PHI_THRESHOLD = 8;
/**
 * Unanswered this long while running (state R or S), a replica is faulty whatever
 * phi says: a livelock, or a loop that blocks its event loop. Long enough that a
 * replica starved of CPU on a loaded 2-core machine does not reach it.
 */
export const UNANSWERED_CAP_MS = 10_000;
/**
 * A replica on a silent host (its agent not heard for HOST_SILENCE_MS while a
 * majority of the hosts is heard) is faulty once this many short probes in a row
 * went unanswered: judged by its own silence, not its agent's, in about a second
 * instead of the seconds phi needs at a 2 s heartbeat (decision: issue 16).
 */
export const HOST_PROBE_MISSES = 3;
export const HOST_SILENCE_MS = 1_000;

/** A replica that served for less than this before failing counts towards back-off. */
const QUICK_FAILURE_MS = 1_000;
/** No delay for a first quick failure; then 250 ms, doubling, at most 30 s. */
export function backoffMs(quickFailures: number): number {
  if (quickFailures <= 1) return 0;
  return backoffDelay(BACKOFF.replicaRespawn, quickFailures - 2);
}

/** A new slot: its first process is spawned. */
export function newSlot(id: string, nowMs: number, role: Role = 'member'): Transition {
  return spawnNext(
    {
      id,
      role,
      incarnation: 0,
      startedAtMs: nowMs,
      restarts: 0,
      quickFailures: 0,
      phase: { kind: 'stopped' },
    },
    nowMs,
  );
}

/** A slot for a replica an earlier manager left running and that answers its health check. */
export function adoptedSlot(
  entry: RegistryEntry,
  answer: 'SERVING' | 'NOT_SERVING',
  nowMs: number,
): Transition {
  const role: Role = entry.spare ? 'spare' : 'member';
  const state: SlotState = {
    id: entry.id,
    role,
    incarnation: 1,
    startedAtMs: entry.startedAtMs,
    restarts: entry.restarts,
    quickFailures: 0,
    lastFault: entry.lastFault as LastFault | undefined,
    phase:
      answer === 'SERVING'
        ? answering(role, entry.pid, entry.address, nowMs)
        : { kind: 'not-serving', pid: entry.pid, address: entry.address, misses: 0 },
  };
  return {
    state,
    effects: [
      { kind: 'publish-view' },
      { kind: 'start-heartbeat', incarnation: 1, pid: entry.pid, address: entry.address },
    ],
  };
}

const unchanged = (state: SlotState): Transition => ({ state, effects: [] });

export function transition(state: SlotState, event: SlotEvent, context: MachineContext): Transition {
  const { phase } = state;
  if (event.type === 'stop') return stop(state);
  // One rule for every late callback: an event of an earlier process changes nothing.
  if (event.incarnation !== state.incarnation) return unchanged(state);
  if (event.type === 'covered') return covered(state, event.by, context.nowMs);
  switch (phase.kind) {
    case 'starting':
      switch (event.type) {
        case 'spawned':
          // Registered at once, so that a manager that dies before the replica is ready
          // has a successor that finds and kills it instead of leaking it.
          return {
            state: { ...state, phase: { kind: 'starting', pid: event.pid } },
            effects: [{ kind: 'write-registry' }],
          };
        case 'ready':
          return ready(state, phase.pid, event.address, context.nowMs);
        case 'start-failed':
          return fault(state, `failed to start: ${event.message}`, 'start', context.nowMs);
        default:
          return lost(state, event, context.nowMs);
      }
    case 'serving':
    case 'not-serving':
    case 'spare':
      switch (event.type) {
        case 'health':
          return health(state, phase, event, context);
        case 'client-report':
          return clientReport(state, phase, event, context);
        case 'promote':
          return phase.kind === 'spare'
            ? promote(state, phase, event.replacing, context.nowMs)
            : unchanged(state);
        case 'retire':
          return phase.kind === 'serving' ? retire(state, phase, event.why) : unchanged(state);
        default:
          return lost(state, event, context.nowMs);
      }
    case 'draining':
      switch (event.type) {
        case 'exited':
          return unchanged(gone(state));
        case 'drained':
          return spawnNext(gone({ ...state, restarts: state.restarts + 1 }), context.nowMs);
        default:
          return unchanged(state);
      }
    case 'faulty':
      switch (event.type) {
        case 'exited':
          return unchanged(gone(state));
        case 'killed':
          return replace(gone(state), context.nowMs);
        default:
          return unchanged(state);
      }
    case 'backing-off':
      return event.type === 'backoff-elapsed' ? spawnNext(state, context.nowMs) : unchanged(state);
    case 'stopped':
      return unchanged(state);
  }
}

function stop(state: SlotState): Transition {
  const { phase } = state;
  const stopped: SlotState = { ...state, phase: { kind: 'stopped' } };
  const terminate: Effect = { kind: 'terminate', incarnation: state.incarnation, pid: pidOf(phase) };
  switch (phase.kind) {
    case 'starting':
    case 'faulty':
    case 'draining':
      return { state: stopped, effects: [terminate] };
    case 'serving':
    case 'not-serving':
    case 'spare':
      return { state: stopped, effects: [{ kind: 'stop-heartbeat' }, terminate] };
    case 'backing-off':
      return { state: stopped, effects: [{ kind: 'cancel-respawn' }] };
    case 'stopped':
      return unchanged(state);
  }
}

/** The phase of a process that answers SERVING: in the view for a member, warm and waiting for a spare. */
function answering(role: Role, pid: number | undefined, address: string, nowMs: number): Phase {
  return role === 'member'
    ? { kind: 'serving', pid, address, sinceMs: nowMs, misses: 0 }
    : { kind: 'spare', pid, address, misses: 0 };
}

function ready(state: SlotState, pid: number | undefined, address: string, nowMs: number): Transition {
  const { incarnation } = state;
  const effects: Effect[] = [{ kind: 'detach', incarnation }];
  if (state.role === 'spare') {
    return {
      state: { ...state, phase: answering('spare', pid, address, nowMs) },
      effects: [
        ...effects,
        log('info', 'warm spare ready, out of the view', { replica: state.id, replicaPid: pid }),
        { kind: 'write-registry' },
        { kind: 'start-heartbeat', incarnation, pid, address },
      ],
    };
  }
  let next: SlotState = { ...state, phase: answering('member', pid, address, nowMs) };
  if (state.faultDetectedAtMs !== undefined) {
    const recoveryMs = nowMs - state.faultDetectedAtMs;
    next = { ...next, faultDetectedAtMs: undefined };
    effects.push(
      { kind: 'count-recovery', recoveryMs },
      log('info', 'replacement serving and in the view', { replica: state.id, replicaPid: pid, recoveryMs }),
    );
  }
  effects.push({ kind: 'publish-view' }, { kind: 'start-heartbeat', incarnation, pid, address });
  return { state: next, effects };
}

/**
 * A missed heartbeat alone does not make a replica faulty: a busy one answers late.
 * Unanswered, it is faulty at once if /proc says it is stopped (state T: it cannot
 * run, so cannot answer) or gone; while it runs, only once phi reaches PHI_THRESHOLD
 * after at least `heartbeatMisses` misses in a row, or once it has not answered for
 * UNANSWERED_CAP_MS. NOT_SERVING is an answer: the replica leaves the view until it
 * reports SERVING again, and is not replaced.
 */
const health: WatchedHandler<'health'> = (state, phase, event, context) => {
  const { pid, address } = phase;
  const changed: Effect = state.role === 'member' ? { kind: 'publish-view' } : { kind: 'write-registry' };
  if (event.answer === 'SERVING' && phase.kind === 'not-serving')
    return {
      state: { ...state, phase: answering(state.role, pid, address, context.nowMs) },
      effects: [
        log(
          'info',
          `replica serving again; ${state.role === 'member' ? 'back in the view' : 'a warm spare'}`,
          {
            replica: state.id,
          },
        ),
        changed,
      ],
    };
  if (event.answer === 'NOT_SERVING' && phase.kind !== 'not-serving')
    return {
      state: { ...state, phase: { kind: 'not-serving', pid, address, misses: 0 } },
      effects: [
        log('warn', 'replica NOT_SERVING (no database); out of the view, not replaced', {
          replica: state.id,
        }),
        changed,
      ],
    };
  if (event.answer !== undefined) return unchanged({ ...state, phase: { ...phase, misses: 0 } });
  // Gone before or while being probed (its sockets close before its exit is reported; an
  // adopted replica is not our child, so its exit shows up only here): an exit, not a hang.
  const { signals } = event;
  if (signals.process === 'gone') return fault(gone(state), 'the process is gone', 'exit', context.nowMs);
  const misses = phase.misses + 1;
  const hang = hangOf(signals, misses, context);
  if (hang) return fault(state, hang, 'heartbeat', context.nowMs);
  return unchanged({ ...state, phase: { ...phase, misses } });
};

/**
 * The detector's one rule for a live process that did not answer (`misses` in a
 * row): why it is hung, or undefined while it may only be busy. Heartbeats and
 * client reports are judged by it alike.
 */
function hangOf(signals: HealthSignals, misses: number, context: MachineContext): string | undefined {
  if (signals.process === 'stopped') return 'the process is stopped (state T in /proc)';
  const { host } = signals;
  if (
    host &&
    host.misses >= HOST_PROBE_MISSES &&
    host.silentMs >= HOST_SILENCE_MS &&
    misses >= context.heartbeatMisses
  )
    return `its host's agent silent for ${host.silentMs} ms while the manager hears the other hosts, and ${host.misses} direct probes unanswered in a row`;
  if (signals.silentMs >= UNANSWERED_CAP_MS)
    return `running but unanswered for ${signals.silentMs} ms (${misses} heartbeat(s))`;
  if (misses >= context.heartbeatMisses && signals.phi >= PHI_THRESHOLD)
    return `${misses} heartbeat(s) unanswered, phi ${signals.phi.toFixed(1)} ≥ ${PHI_THRESHOLD} after ${signals.silentMs} ms silent`;
  return undefined;
}

/**
 * A client's report plus an unanswered probe is no more than one missed heartbeat: a
 * replica starved of CPU misses a client's attempt deadline and a probe alike. It is
 * a fault only if the heartbeat's own rule would make it one now: stopped or gone, or
 * already suspected (phi over the floor of misses) or silent for the cap. Otherwise
 * the heartbeat goes on watching; the report does not count as a miss.
 */
const clientReport: WatchedHandler<'client-report'> = (state, phase, event, context) => {
  const { signals, what } = event;
  if (signals.process === 'gone')
    return fault(gone(state), `${what}; the process is gone`, 'exit', context.nowMs);
  // The report itself is no miss: judged on the misses the heartbeat counted.
  const hang = hangOf(signals, phase.misses, context);
  if (hang) return fault(state, `${what}; ${hang}`, 'client report', context.nowMs);
  return {
    state,
    effects: [
      log('info', 'a client reported a fault the heartbeat does not confirm; still watching', {
        replica: state.id,
        report: what,
        phi: Number(signals.phi.toFixed(1)),
        silentMs: signals.silentMs,
        misses: phase.misses,
      }),
    ],
  };
};

/** The phases of a ready process whose heartbeat runs. */
type Watched = Extract<Phase, { kind: 'serving' | 'not-serving' | 'spare' }>;

/** What a watched process's event of type `T` does to its slot. */
type WatchedHandler<T extends SlotEvent['type']> = (
  state: SlotState,
  phase: Watched,
  event: Extract<SlotEvent, { type: T }>,
  context: MachineContext,
) => Transition;

/** A warm spare joins the view in a failed or retiring member's place. */
function promote(
  state: SlotState,
  phase: Extract<Phase, { kind: 'spare' }>,
  replacing: string,
  nowMs: number,
): Transition {
  return {
    state: { ...state, role: 'member', phase: answering('member', phase.pid, phase.address, nowMs) },
    effects: [
      log('info', 'warm spare joins the view', { replica: state.id, replicaPid: phase.pid, replacing }),
      { kind: 'publish-view' },
    ],
  };
}

/**
 * A spare took this member's place (it failed, or is still starting): the slot
 * becomes a spare, and the fault is recovered now, by the spare in the view.
 */
function covered(state: SlotState, by: string, nowMs: number): Transition {
  const { phase } = state;
  if (
    state.role !== 'member' ||
    !(phase.kind === 'starting' || phase.kind === 'faulty' || phase.kind === 'backing-off')
  )
    return unchanged(state);
  const effects: Effect[] = [];
  if (state.faultDetectedAtMs !== undefined) {
    const recoveryMs = nowMs - state.faultDetectedAtMs;
    effects.push(
      { kind: 'count-recovery', recoveryMs },
      log('info', 'a warm spare took its place in the view; its replacement becomes the spare', {
        replica: state.id,
        spare: by,
        recoveryMs,
      }),
    );
  }
  effects.push({ kind: 'write-registry' });
  return { state: { ...state, role: 'spare', faultDetectedAtMs: undefined }, effects };
}

/** Rejuvenation or a move home: out of the view first (a spare took its place), then SIGTERM lets it finish its calls. */
function retire(state: SlotState, phase: Extract<Phase, { kind: 'serving' }>, why: string): Transition {
  return {
    state: { ...state, role: 'spare', phase: { kind: 'draining', pid: phase.pid, address: phase.address } },
    effects: [
      log('info', 'retiring: out of the view, draining its calls', {
        replica: state.id,
        replicaPid: phase.pid,
        why,
      }),
      { kind: 'stop-heartbeat' },
      { kind: 'publish-view' },
      { kind: 'drain', incarnation: state.incarnation, pid: phase.pid },
    ],
  };
}

/** Out of the view, killed; `killed` then brings the replacement. */
function fault(state: SlotState, what: string, cause: FaultCause, nowMs: number): Transition {
  const { phase } = state;
  const wasServing = phase.kind === 'serving';
  const servedMs = wasServing ? nowMs - phase.sinceMs : 0;
  const pid = pidOf(phase);
  const next: SlotState = {
    ...state,
    lastFault: { what, cause, atMs: nowMs },
    // A spare's fault takes nothing out of the view: there is nothing to recover.
    faultDetectedAtMs: state.role === 'member' ? (state.faultDetectedAtMs ?? nowMs) : undefined,
    quickFailures: servedMs < QUICK_FAILURE_MS ? state.quickFailures + 1 : 0,
    phase: { kind: 'faulty', pid, address: addressOf(phase), cause },
  };
  const effects: Effect[] = [
    { kind: 'count-fault' },
    log('warn', 'replica faulty; replacing it', { replica: state.id, replicaPid: pid, cause, fault: what }),
  ];
  if (phase.kind === 'serving' || phase.kind === 'not-serving' || phase.kind === 'spare')
    effects.push({ kind: 'stop-heartbeat' });
  // A replica that never served is not in the view, but it was in the registry.
  effects.push(wasServing ? { kind: 'publish-view' } : { kind: 'write-registry' });
  effects.push({ kind: 'kill', incarnation: state.incarnation, pid });
  return { state: next, effects };
}

/** The faulty process is gone: respawn now, or back off if replacements keep failing fast. */
function replace(state: SlotState, nowMs: number): Transition {
  const delayMs = backoffMs(state.quickFailures);
  const next = { ...state, restarts: state.restarts + 1 };
  if (delayMs === 0) return spawnNext(next, nowMs);
  return {
    state: {
      ...next,
      phase: { kind: 'backing-off', untilMs: nowMs + delayMs, address: addressOf(state.phase) },
    },
    effects: [
      log('warn', 'backing off before respawning', {
        replica: state.id,
        delayMs,
        quickFailures: state.quickFailures,
      }),
      { kind: 'schedule-respawn', incarnation: state.incarnation, delayMs },
    ],
  };
}

function spawnNext(state: SlotState, nowMs: number): Transition {
  const incarnation = state.incarnation + 1;
  return {
    state: { ...state, incarnation, startedAtMs: nowMs, phase: { kind: 'starting' } },
    effects: [{ kind: 'spawn', incarnation }],
  };
}

/** The process is known to be gone: nothing is left to signal. */
function gone(state: SlotState): SlotState {
  const { phase } = state;
  return 'pid' in phase ? { ...state, phase: { ...phase, pid: undefined } } : state;
}

/** The row every live phase shares: its process exits. */
function lost(state: SlotState, event: SlotEvent, nowMs: number): Transition {
  switch (event.type) {
    case 'exited':
      return fault(gone(state), `exited (code ${event.code}, signal ${event.signal})`, 'exit', nowMs);
    default:
      return unchanged(state);
  }
}

function log(level: 'info' | 'warn', message: string, fields: Record<string, unknown>): Effect {
  return { kind: 'log', level, message, fields };
}

function pidOf(phase: Phase): number | undefined {
  return 'pid' in phase ? phase.pid : undefined;
}

export function addressOf(phase: Phase): string | undefined {
  return 'address' in phase ? phase.address : undefined;
}

// Views of a slot's state, for the view, the registry and GetStatus.

export function isServing(state: SlotState): state is SlotState & { phase: { kind: 'serving' } } {
  return state.phase.kind === 'serving';
}

/**
 * The warm spares free to join the view, in id order. `reserved`: a spare that is
 * no one else's to take: the successor of a move home without warm spares, which
 * joins the view only in its away slot's place. Taken by a failed member or a
 * rejuvenation instead, it would leave the slot it replaced to start a spare, one
 * slot more than asked for.
 */
export function freeSpares(slots: Iterable<SlotState>, reserved?: string): SlotState[] {
  return [...slots]
    .filter((s) => s.phase.kind === 'spare' && s.id !== reserved)
    .sort((a, b) => a.id.localeCompare(b.id, 'en', { numeric: true }));
}

/**
 * Serving replicas and warm spares (or ones waiting for the database), to be adopted;
 * starting ones (no address yet), to be killed by a successor.
 */
export function registryEntry(state: SlotState): RegistryEntry | undefined {
  const { phase } = state;
  if (
    phase.kind !== 'serving' &&
    phase.kind !== 'not-serving' &&
    phase.kind !== 'spare' &&
    phase.kind !== 'starting'
  )
    return undefined;
  if (phase.pid === undefined) return undefined;
  return {
    id: state.id,
    ...(state.role === 'spare' ? { spare: true } : {}),
    pid: phase.pid,
    address: addressOf(phase) ?? '',
    startedAtMs: state.startedAtMs,
    restarts: state.restarts,
    lastFault: state.lastFault,
  };
}

const STATE_NAMES: Record<Exclude<PhaseKind, 'stopped'>, ReplicaState> = {
  starting: 'REPLICA_STATE_STARTING',
  serving: 'REPLICA_STATE_SERVING',
  faulty: 'REPLICA_STATE_FAULTY',
  'backing-off': 'REPLICA_STATE_BACKING_OFF',
  'not-serving': 'REPLICA_STATE_NOT_SERVING',
  spare: 'REPLICA_STATE_SPARE',
  draining: 'REPLICA_STATE_DRAINING',
};

export function replicaStatus(state: SlotState): ReplicaStatus {
  const { phase } = state;
  return {
    id: state.id,
    pid: pidOf(phase) ?? 0,
    address: addressOf(phase) ?? '',
    // A stopping slot was shown as faulty.
    state: STATE_NAMES[phase.kind === 'stopped' ? 'faulty' : phase.kind],
    started_at_ms: String(state.startedAtMs),
    restarts: state.restarts,
    last_fault: state.lastFault?.what ?? '',
    last_fault_cause: state.lastFault?.cause ?? '',
    last_fault_at_ms: String(state.lastFault?.atMs ?? 0),
    serving_since_ms: String(phase.kind === 'serving' ? phase.sinceMs : 0),
    spare: state.role === 'spare',
  };
}
