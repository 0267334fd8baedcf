import { describe, expect, it } from 'vitest';
import {
  adoptedSlot,
  backoffMs,
  type Effect,
  freeSpares,
  type HealthSignals,
  HOST_PROBE_MISSES,
  HOST_SILENCE_MS,
  type MachineContext,
  newSlot,
  PHI_THRESHOLD,
  type Phase,
  type PhaseKind,
  registryEntry,
  replicaStatus,
  type SlotEvent,
  type SlotState,
  transition,
  UNANSWERED_CAP_MS,
} from '../../src/replication-manager/slot-machine.js';

const context: MachineContext = { nowMs: 10_000, heartbeatMisses: 2 };
const ADDRESS = '127.0.0.1:7001';
const INCARNATION = 3;

const phases = {
  starting: { kind: 'starting', pid: 42 },
  serving: { kind: 'serving', pid: 42, address: ADDRESS, sinceMs: 5_000, misses: 0 },
  'not-serving': { kind: 'not-serving', pid: 42, address: ADDRESS, misses: 0 },
  faulty: { kind: 'faulty', pid: 42, address: ADDRESS, cause: 'heartbeat' },
  'backing-off': { kind: 'backing-off', untilMs: 12_000, address: ADDRESS },
  spare: { kind: 'spare', pid: 42, address: ADDRESS, misses: 0 },
  draining: { kind: 'draining', pid: 42, address: ADDRESS },
  stopped: { kind: 'stopped' },
} satisfies Record<PhaseKind, Phase>;

/** A slot of incarnation 3 in `kind` (a spare's role in the spare and draining phases), whose earlier replacement did not fail fast. */
function inPhase(kind: PhaseKind, overrides: Partial<SlotState> = {}): SlotState {
  return {
    id: 'r1',
    role: kind === 'spare' || kind === 'draining' ? 'spare' : 'member',
    incarnation: INCARNATION,
    startedAtMs: 1_000,
    restarts: 2,
    quickFailures: 0,
    phase: phases[kind],
    ...overrides,
  };
}

type EventName =
  | 'spawned'
  | 'ready'
  | 'start-failed'
  | 'exited'
  | 'health SERVING'
  | 'health NOT_SERVING'
  | 'health unanswered'
  | 'health unanswered, phi above threshold'
  | 'health unanswered beyond the cap'
  | 'health unanswered, process stopped'
  | 'health unanswered, process gone'
  | 'client report, running'
  | 'client report, phi above threshold'
  | 'client report beyond the cap'
  | 'client report, process stopped'
  | 'client report, process gone'
  | 'killed'
  | 'backoff-elapsed'
  | 'promote'
  | 'covered'
  | 'retire'
  | 'drained'
  | 'stop';

/** A running process that answers on time. */
const RUNNING: HealthSignals = { process: 'running', phi: 0, silentMs: 0 };
/** Running, and silent for far longer than its answer times make likely. */
const SUSPECTED: HealthSignals = { process: 'running', phi: PHI_THRESHOLD + 1, silentMs: 3_500 };

function event(name: EventName, incarnation = INCARNATION): SlotEvent {
  switch (name) {
    case 'spawned':
      return { type: 'spawned', incarnation, pid: 43 };
    case 'ready':
      return { type: 'ready', incarnation, address: ADDRESS };
    case 'start-failed':
      return { type: 'start-failed', incarnation, message: 'no ready message' };
    case 'exited':
      return { type: 'exited', incarnation, code: 1, signal: null };
    case 'health SERVING':
      return { type: 'health', incarnation, answer: 'SERVING', signals: RUNNING };
    case 'health NOT_SERVING':
      return { type: 'health', incarnation, answer: 'NOT_SERVING', signals: RUNNING };
    case 'health unanswered':
      return {
        type: 'health',
        incarnation,
        answer: undefined,
        signals: { ...RUNNING, phi: 2, silentMs: 400 },
      };
    case 'health unanswered, phi above threshold':
      return { type: 'health', incarnation, answer: undefined, signals: SUSPECTED };
    case 'health unanswered beyond the cap':
      return {
        type: 'health',
        incarnation,
        answer: undefined,
        signals: { process: 'running', phi: 1, silentMs: UNANSWERED_CAP_MS },
      };
    case 'health unanswered, process stopped':
      return { type: 'health', incarnation, answer: undefined, signals: { ...RUNNING, process: 'stopped' } };
    case 'health unanswered, process gone':
      return { type: 'health', incarnation, answer: undefined, signals: { ...RUNNING, process: 'gone' } };
    case 'client report, running':
      return clientReport(incarnation, { ...RUNNING, phi: 2, silentMs: 1_200 });
    case 'client report, phi above threshold':
      return clientReport(incarnation, SUSPECTED);
    case 'client report beyond the cap':
      return clientReport(incarnation, { process: 'running', phi: 1, silentMs: UNANSWERED_CAP_MS });
    case 'client report, process stopped':
      return clientReport(incarnation, { ...RUNNING, process: 'stopped' });
    case 'client report, process gone':
      return clientReport(incarnation, { ...RUNNING, process: 'gone' });
    case 'killed':
      return { type: 'killed', incarnation };
    case 'backoff-elapsed':
      return { type: 'backoff-elapsed', incarnation };
    case 'promote':
      return { type: 'promote', incarnation, replacing: 'r2' };
    case 'covered':
      return { type: 'covered', incarnation, by: 'r4' };
    case 'retire':
      return { type: 'retire', incarnation, why: 'age' };
    case 'drained':
      return { type: 'drained', incarnation };
    case 'stop':
      return { type: 'stop' };
  }
}

/** A client's report whose probe went unanswered, with the heartbeat's signals then. */
function clientReport(incarnation: number, signals: HealthSignals): SlotEvent {
  return { type: 'client-report', incarnation, what: 'client reported: status 14', signals };
}

const EVENTS: EventName[] = [
  'spawned',
  'ready',
  'start-failed',
  'exited',
  'health SERVING',
  'health NOT_SERVING',
  'health unanswered',
  'health unanswered, phi above threshold',
  'health unanswered beyond the cap',
  'health unanswered, process stopped',
  'health unanswered, process gone',
  'client report, running',
  'client report, phi above threshold',
  'client report beyond the cap',
  'client report, process stopped',
  'client report, process gone',
  'killed',
  'backoff-elapsed',
  'promote',
  'covered',
  'retire',
  'drained',
  'stop',
];

type Row = [PhaseKind, Effect['kind'][]];
const faultOutOfView: Row = ['faulty', ['count-fault', 'log', 'stop-heartbeat', 'publish-view', 'kill']];
const faultNotInView: Row = ['faulty', ['count-fault', 'log', 'stop-heartbeat', 'write-registry', 'kill']];
const faultWhileStarting: Row = ['faulty', ['count-fault', 'log', 'write-registry', 'kill']];
/** A member's slot whose place a spare took: its next process is the spare. */
const covered = (kind: PhaseKind): Row => [kind, ['write-registry']];
/**
 * A watched process (serving, not serving, a spare) that exits is a fault, and one
 * stopped has its heartbeat stopped first. Unanswered or reported by a client: one
 * miss is below the floor of heartbeatMisses (2 here), however high phi is, and a
 * report plus one unanswered probe is a single miss, so it stays as it is (a report
 * logged); stopped, gone or silent past the cap, it is a fault.
 */
const watched = (kind: PhaseKind, fault: Row): Partial<Record<EventName, Row>> => ({
  exited: fault,
  'health unanswered': [kind, []],
  'health unanswered, phi above threshold': [kind, []],
  'health unanswered beyond the cap': fault,
  'health unanswered, process stopped': fault,
  'health unanswered, process gone': fault,
  'client report, running': [kind, ['log']],
  'client report, phi above threshold': [kind, ['log']],
  'client report beyond the cap': fault,
  'client report, process stopped': fault,
  'client report, process gone': fault,
  stop: ['stopped', ['stop-heartbeat', 'terminate']],
});

/** Every row that does something; every other (state, event) leaves the state as it is, with no effect. */
const TABLE: Record<PhaseKind, Partial<Record<EventName, Row>>> = {
  starting: {
    spawned: ['starting', ['write-registry']],
    ready: ['serving', ['detach', 'publish-view', 'start-heartbeat']],
    'start-failed': faultWhileStarting,
    exited: faultWhileStarting,
    covered: covered('starting'),
    stop: ['stopped', ['terminate']],
  },
  serving: {
    'health SERVING': ['serving', []],
    'health NOT_SERVING': ['not-serving', ['log', 'publish-view']],
    ...watched('serving', faultOutOfView),
    retire: ['draining', ['log', 'stop-heartbeat', 'publish-view', 'drain']],
  },
  'not-serving': {
    'health SERVING': ['serving', ['log', 'publish-view']],
    'health NOT_SERVING': ['not-serving', []],
    ...watched('not-serving', faultNotInView),
  },
  faulty: {
    exited: ['faulty', []],
    // quickFailures 0 in these rows: no back-off.
    killed: ['starting', ['spawn']],
    covered: covered('faulty'),
    stop: ['stopped', ['terminate']],
  },
  'backing-off': {
    'backoff-elapsed': ['starting', ['spawn']],
    covered: covered('backing-off'),
    stop: ['stopped', ['cancel-respawn']],
  },
  spare: {
    'health SERVING': ['spare', []],
    'health NOT_SERVING': ['not-serving', ['log', 'write-registry']],
    ...watched('spare', faultNotInView),
    promote: ['serving', ['log', 'publish-view']],
  },
  draining: {
    exited: ['draining', []],
    drained: ['starting', ['spawn']],
    stop: ['stopped', ['terminate']],
  },
  stopped: {},
};

const kinds = (effects: Effect[]) => effects.map((e) => e.kind);

/** Feeds events one after another, returning the last state and every effect on the way. */
function run(state: SlotState, events: SlotEvent[], ctx = context) {
  const effects: Effect[] = [];
  for (const e of events) {
    const next = transition(state, e, ctx);
    state = next.state;
    effects.push(...next.effects);
  }
  return { state, effects };
}

describe('the slot machine', () => {
  const cases = (Object.keys(TABLE) as PhaseKind[]).flatMap((kind) =>
    EVENTS.map((name) => ({ kind, name, row: TABLE[kind][name] ?? ([kind, []] as Row) })),
  );

  it.each(cases)('$kind + $name → $row.0 with effects $row.1', ({ kind, name, row }) => {
    const { state, effects } = transition(inPhase(kind), event(name), context);
    expect(state.phase.kind).toBe(row[0]);
    expect(kinds(effects)).toEqual(row[1]);
  });

  it.each(
    (Object.keys(TABLE) as PhaseKind[]).flatMap((kind) =>
      EVENTS.filter((name) => name !== 'stop').map((name) => ({ kind, name })),
    ),
  )('$kind ignores $name of an earlier incarnation', ({ kind, name }) => {
    const before = inPhase(kind);
    const { state, effects } = transition(before, event(name, INCARNATION - 1), context);
    expect(state).toBe(before);
    expect(effects).toEqual([]);
  });

  it('a new slot spawns its first process, and the spawn registers its pid', () => {
    const first = newSlot('r2', 7_000);
    expect(first.state).toMatchObject({ id: 'r2', incarnation: 1, startedAtMs: 7_000, restarts: 0 });
    expect(first.state.phase).toEqual({ kind: 'starting' });
    expect(first.effects).toEqual([{ kind: 'spawn', incarnation: 1 }]);
    const { state } = transition(first.state, { type: 'spawned', incarnation: 1, pid: 99 }, context);
    expect(registryEntry(state)).toEqual({ id: 'r2', pid: 99, address: '', startedAtMs: 7_000, restarts: 0 });
  });

  it('an adopted replica keeps its pid, address and history, and is watched in the phase its health says', () => {
    const entry = { id: 'r1', pid: 50, address: ADDRESS, startedAtMs: 3_000, restarts: 4 };
    const serving = adoptedSlot(entry, 'SERVING', 9_000);
    expect(serving.state.phase).toEqual({
      kind: 'serving',
      pid: 50,
      address: ADDRESS,
      sinceMs: 9_000,
      misses: 0,
    });
    expect(serving.state).toMatchObject({ restarts: 4, startedAtMs: 3_000 });
    expect(serving.effects).toEqual([
      { kind: 'publish-view' },
      { kind: 'start-heartbeat', incarnation: 1, pid: 50, address: ADDRESS },
    ]);
    expect(adoptedSlot(entry, 'NOT_SERVING', 9_000).state.phase.kind).toBe('not-serving');
  });

  it('an exit while starting is a fault of cause exit, with nothing left to kill', () => {
    const { state, effects } = transition(inPhase('starting'), event('exited'), context);
    expect(state.lastFault).toEqual({ what: 'exited (code 1, signal null)', cause: 'exit', atMs: 10_000 });
    expect(state.phase).toEqual({ kind: 'faulty', pid: undefined, address: undefined, cause: 'exit' });
    expect(effects.at(-1)).toEqual({ kind: 'kill', incarnation: INCARNATION, pid: undefined });
    // The ready promise then rejects: already faulty, that changes nothing.
    expect(transition(state, event('start-failed'), context).effects).toEqual([]);
  });

  it('a client report on a stopped process kills the process it names and records the report', () => {
    const { state, effects } = transition(
      inPhase('serving'),
      event('client report, process stopped'),
      context,
    );
    expect(state.lastFault).toMatchObject({
      what: 'client reported: status 14; the process is stopped (state T in /proc)',
      cause: 'client report',
    });
    expect(effects).toContainEqual({ kind: 'kill', incarnation: INCARNATION, pid: 42 });
  });

  it('a client report on a running replica is judged like a heartbeat: not a fault until phi passes the threshold over the floor of misses', () => {
    const report = event('client report, phi above threshold');
    const alone = transition(inPhase('serving'), report, context);
    expect(alone.state.phase).toEqual(phases.serving);
    expect(alone.state.lastFault).toBeUndefined();
    const { state, effects } = run(inPhase('serving'), [
      event('health unanswered, phi above threshold'),
      event('health unanswered'),
      report,
    ]);
    expect(state.lastFault).toMatchObject({
      what: `client reported: status 14; 2 heartbeat(s) unanswered, phi ${(PHI_THRESHOLD + 1).toFixed(1)} ≥ 8 after 3500 ms silent`,
      cause: 'client report',
    });
    expect(kinds(effects)).toEqual(faultOutOfView[1]);
  });

  it('a running replica is faulty only once phi reaches the threshold after heartbeatMisses misses; an answer resets the count', () => {
    const suspected = event('health unanswered, phi above threshold');
    const reset = run(inPhase('serving'), [suspected, event('health SERVING'), suspected]);
    expect(reset.state.phase).toMatchObject({ kind: 'serving', misses: 1 });
    expect(reset.effects).toEqual([]);
    const { state, effects } = run(reset.state, [suspected]);
    expect(state.lastFault).toMatchObject({
      what: `2 heartbeat(s) unanswered, phi ${(PHI_THRESHOLD + 1).toFixed(1)} ≥ 8 after 3500 ms silent`,
      cause: 'heartbeat',
    });
    expect(kinds(effects)).toEqual(faultOutOfView[1]);
  });

  it('a slow, busy replica is not faulty however many heartbeats it misses while phi stays below the threshold', () => {
    const slow: SlotEvent = {
      type: 'health',
      incarnation: INCARNATION,
      answer: undefined,
      signals: { process: 'running', phi: PHI_THRESHOLD - 0.1, silentMs: UNANSWERED_CAP_MS - 1 },
    };
    const { state, effects } = run(
      inPhase('serving'),
      Array.from({ length: 50 }, () => slow),
    );
    expect(state.phase).toMatchObject({ kind: 'serving', misses: 50 });
    expect(effects).toEqual([]);
  });

  it('a stopped process (state T) is faulty at the first unanswered heartbeat, below the floor of misses', () => {
    const { state, effects } = transition(
      inPhase('serving'),
      event('health unanswered, process stopped'),
      context,
    );
    expect(state.lastFault).toMatchObject({
      what: 'the process is stopped (state T in /proc)',
      cause: 'heartbeat',
    });
    expect(effects).toContainEqual({ kind: 'kill', incarnation: INCARNATION, pid: 42 });
  });

  it('a running replica unanswered for the cap is faulty whatever phi says (a livelock)', () => {
    const { state } = transition(inPhase('serving'), event('health unanswered beyond the cap'), context);
    expect(state.lastFault).toMatchObject({
      what: `running but unanswered for ${UNANSWERED_CAP_MS} ms (1 heartbeat(s))`,
      cause: 'heartbeat',
    });
  });

  it('a replica on a silent host is faulty after HOST_PROBE_MISSES short probes unanswered in a row once its agent is silent for HOST_SILENCE_MS, whatever phi says; an answer or the host heard again starts over', () => {
    const probe = (misses: number, silentMs = HOST_SILENCE_MS): SlotEvent => ({
      type: 'health',
      incarnation: INCARNATION,
      answer: undefined,
      signals: { process: 'running', phi: 0.5, silentMs: 600, host: { silentMs, misses } },
    });
    const below = Array.from({ length: HOST_PROBE_MISSES - 1 }, (_, i) => probe(i + 1));
    // Too few probes, or the agent not silent long enough yet (the probes start at 500 ms): still watching.
    const early = run(inPhase('serving'), [...below, probe(HOST_PROBE_MISSES, HOST_SILENCE_MS - 1)]);
    expect(early.state.phase).toMatchObject({ kind: 'serving', misses: HOST_PROBE_MISSES });
    expect(early.effects).toEqual([]);
    // Host heard again (no host signal): an unanswered heartbeat with a low phi is no fault.
    const heard = run(inPhase('serving'), [...below, event('health unanswered')]);
    expect(heard.effects).toEqual([]);
    const { state, effects } = run(inPhase('serving'), [...below, probe(HOST_PROBE_MISSES)]);
    expect(state.lastFault).toMatchObject({
      what: `its host's agent silent for ${HOST_SILENCE_MS} ms while the manager hears the other hosts, and ${HOST_PROBE_MISSES} direct probes unanswered in a row`,
      cause: 'heartbeat',
    });
    expect(kinds(effects)).toEqual(faultOutOfView[1]);
    // A client's report is judged by the same rule.
    const reported = transition(
      { ...inPhase('serving'), phase: { ...phases.serving, misses: HOST_PROBE_MISSES } } as SlotState,
      clientReport(INCARNATION, {
        process: 'running',
        phi: 0.5,
        silentMs: 600,
        host: { silentMs: HOST_SILENCE_MS, misses: HOST_PROBE_MISSES },
      }),
      context,
    );
    expect(reported.state.lastFault).toMatchObject({
      what: `client reported: status 14; its host's agent silent for ${HOST_SILENCE_MS} ms while the manager hears the other hosts, and ${HOST_PROBE_MISSES} direct probes unanswered in a row`,
      cause: 'client report',
    });
  });

  it('NOT_SERVING takes the replica out of the view and SERVING brings it back, the same process throughout', () => {
    const { state, effects } = run(inPhase('serving'), [
      event('health NOT_SERVING'),
      event('health unanswered'),
      event('health SERVING'),
    ]);
    expect(state.phase).toEqual({ kind: 'serving', pid: 42, address: ADDRESS, sinceMs: 10_000, misses: 0 });
    expect(kinds(effects)).toEqual(['log', 'publish-view', 'log', 'publish-view']);
    expect(state.lastFault).toBeUndefined();
  });

  it('a fault while backing off, or a second fault while faulty, changes nothing', () => {
    for (const kind of ['backing-off', 'faulty'] as const) {
      const before = inPhase(kind);
      for (const name of [
        'exited',
        'client report, process stopped',
        'health unanswered, process gone',
      ] as const) {
        expect(transition(before, event(name), context).effects).toEqual([]);
      }
    }
  });

  it('replacements that fail within a second back off 250 ms, then 500 ms; serving longer resets that', () => {
    // A replacement that served 400 ms: its second quick failure in a row.
    const serving = inPhase('serving', { quickFailures: 1, phase: { ...phases.serving, sinceMs: 9_600 } });
    const faulted = run(serving, [event('exited'), event('killed')]);
    expect(faulted.state).toMatchObject({ quickFailures: 2, restarts: 3, incarnation: INCARNATION });
    expect(faulted.state.phase).toEqual({ kind: 'backing-off', untilMs: 10_250, address: ADDRESS });
    expect(faulted.effects.at(-1)).toEqual({
      kind: 'schedule-respawn',
      incarnation: INCARNATION,
      delayMs: 250,
    });

    const respawned = transition(faulted.state, event('backoff-elapsed'), context);
    expect(respawned.state).toMatchObject({ incarnation: INCARNATION + 1, startedAtMs: 10_000 });
    expect(respawned.effects).toEqual([{ kind: 'spawn', incarnation: INCARNATION + 1 }]);
    const again = run(respawned.state, [event('exited', INCARNATION + 1), event('killed', INCARNATION + 1)]);
    expect(again.effects.at(-1)).toEqual({
      kind: 'schedule-respawn',
      incarnation: INCARNATION + 1,
      delayMs: 500,
    });

    // One that served for a second or more was not failing in a loop: replaced at once.
    const longLived = inPhase('serving', { quickFailures: 5, phase: { ...phases.serving, sinceMs: 9_000 } });
    const replaced = run(longLived, [event('exited'), event('killed')]);
    expect(replaced.state.quickFailures).toBe(0);
    expect(replaced.effects.at(-1)).toEqual({ kind: 'spawn', incarnation: INCARNATION + 1 });
  });

  it('back-off: none for a first quick failure, then 250 ms doubling up to 30 s', () => {
    expect([0, 1, 2, 3, 4, 5, 20].map(backoffMs)).toEqual([0, 0, 250, 500, 1_000, 2_000, 30_000]);
  });

  it('a replacement that serves counts a recovery timed from the fault’s detection', () => {
    const faulty = run(inPhase('serving', { phase: { ...phases.serving, sinceMs: 1_000 } }), [
      event('exited'),
      event('killed'),
    ]);
    const next = INCARNATION + 1;
    const { state, effects } = run(
      faulty.state,
      [
        { type: 'spawned', incarnation: next, pid: 77 },
        { type: 'ready', incarnation: next, address: '127.0.0.1:7002' },
      ],
      {
        ...context,
        nowMs: 10_600,
      },
    );
    expect(effects).toContainEqual({ kind: 'count-recovery', recoveryMs: 600 });
    expect(state.faultDetectedAtMs).toBeUndefined();
    expect(state.phase).toMatchObject({ kind: 'serving', pid: 77, address: '127.0.0.1:7002' });
    // The killed process's late exit is ignored by its replacement.
    expect(transition(state, event('exited'), context).effects).toEqual([]);
  });

  it('the registry holds starting, serving, not-serving and spare processes with a pid; the status shows every phase', () => {
    const registered = (Object.keys(phases) as PhaseKind[]).filter((k) => registryEntry(inPhase(k)));
    expect(registered).toEqual(['starting', 'serving', 'not-serving', 'spare']);
    expect(registryEntry(inPhase('spare'))).toMatchObject({ id: 'r1', spare: true, address: ADDRESS });
    expect(registryEntry(inPhase('serving'))?.spare).toBeUndefined();
    expect(replicaStatus(inPhase('spare'))).toMatchObject({ state: 'REPLICA_STATE_SPARE', spare: true });
    expect(replicaStatus(inPhase('draining'))).toMatchObject({ state: 'REPLICA_STATE_DRAINING' });
    expect(registryEntry(inPhase('starting', { phase: { kind: 'starting' } }))).toBeUndefined();
    expect(replicaStatus(inPhase('serving'))).toEqual({
      id: 'r1',
      pid: 42,
      address: ADDRESS,
      state: 'REPLICA_STATE_SERVING',
      started_at_ms: '1000',
      restarts: 2,
      last_fault: '',
      last_fault_cause: '',
      last_fault_at_ms: '0',
      serving_since_ms: '5000',
      spare: false,
    });
    expect(replicaStatus(inPhase('not-serving'))).toMatchObject({
      state: 'REPLICA_STATE_NOT_SERVING',
      serving_since_ms: '0',
    });
    expect(replicaStatus(inPhase('backing-off'))).toMatchObject({
      state: 'REPLICA_STATE_BACKING_OFF',
      pid: 0,
    });
  });
});

describe('warm spares in the slot machine', () => {
  it('a spare slot that becomes ready waits out of the view, watched; promoted, it joins the view as a member', () => {
    const spawned = newSlot('r4', 1_000, 'spare');
    const { state, effects } = run(spawned.state, [
      { type: 'spawned', incarnation: 1, pid: 90 },
      { type: 'ready', incarnation: 1, address: ADDRESS },
    ]);
    expect(state.phase.kind).toBe('spare');
    expect(kinds(effects)).not.toContain('publish-view');
    expect(kinds(effects)).toContain('start-heartbeat');
    const promoted = transition(state, { type: 'promote', incarnation: 1, replacing: 'r2' }, context);
    expect(promoted.state).toMatchObject({ role: 'member', phase: { kind: 'serving', pid: 90 } });
    expect(kinds(promoted.effects)).toContain('publish-view');
  });

  it('a failed member covered by a spare counts its recovery then, and its replacement becomes the spare', () => {
    const failed = run(inPhase('serving'), [event('exited')], { ...context, nowMs: 9_000 });
    expect(failed.state.faultDetectedAtMs).toBe(9_000);
    const cover = transition(failed.state, { type: 'covered', incarnation: INCARNATION, by: 'r4' }, context);
    expect(cover.state.role).toBe('spare');
    expect(cover.state.faultDetectedAtMs).toBeUndefined();
    expect(cover.effects).toContainEqual({ kind: 'count-recovery', recoveryMs: 1_000 });
    const { state, effects } = run(cover.state, [
      { type: 'killed', incarnation: INCARNATION },
      { type: 'spawned', incarnation: INCARNATION + 1, pid: 91 },
      { type: 'ready', incarnation: INCARNATION + 1, address: '127.0.0.1:7009' },
    ]);
    expect(state.phase.kind).toBe('spare');
    // Recovered once, when the spare joined the view: not again when the new spare is ready.
    expect(kinds(effects)).not.toContain('count-recovery');
  });

  it('a failing spare is replaced by another spare, and counts no recovery', () => {
    const failed = run(inPhase('spare'), [event('health unanswered, process stopped')]);
    expect(failed.state.phase.kind).toBe('faulty');
    expect(failed.state.faultDetectedAtMs).toBeUndefined();
    const { state } = run(failed.state, [{ type: 'killed', incarnation: INCARNATION }]);
    expect(state).toMatchObject({ role: 'spare', phase: { kind: 'starting' } });
  });

  it('a retired member drains out of the view, then its slot starts a spare', () => {
    const retired = transition(inPhase('serving'), event('retire'), context);
    expect(retired.state).toMatchObject({ role: 'spare', phase: { kind: 'draining', pid: 42 } });
    const { state, effects } = run(retired.state, [event('exited'), event('drained')]);
    expect(state).toMatchObject({ role: 'spare', phase: { kind: 'starting' } });
    expect(kinds(effects)).toEqual(['spawn']);
    expect(kinds(effects)).not.toContain('count-fault');
  });

  it('a retirement logs why it retires: a move home is not called rejuvenation', () => {
    const { effects } = transition(
      inPhase('serving'),
      { type: 'retire', incarnation: INCARNATION, why: 'moving home to host h1' },
      context,
    );
    expect(effects).toContainEqual({
      kind: 'log',
      level: 'info',
      message: 'retiring: out of the view, draining its calls',
      fields: { replica: 'r1', replicaPid: 42, why: 'moving home to host h1' },
    });
  });

  it("a move home's successor (--spares 0) is no spare for a failed member or a rejuvenation: the member it covered would start one spare more than asked for", () => {
    const successor = inPhase('spare', { id: 'r4' });
    const failed = inPhase('faulty', { id: 'r1' });
    // Why it is reserved: a covered member's slot goes on as a spare, an extra slot with --spares 0.
    const covered = transition(failed, { type: 'covered', incarnation: INCARNATION, by: 'r4' }, context);
    expect(covered.state.role).toBe('spare');
    expect(freeSpares([failed, successor], 'r4')).toEqual([]);
    const warm = inPhase('spare', { id: 'r5' });
    expect(freeSpares([warm, failed, successor], 'r4').map((s) => s.id)).toEqual(['r5']);
    // Without a move under way every ready spare is free, in id order.
    expect(freeSpares([warm, failed, successor]).map((s) => s.id)).toEqual(['r4', 'r5']);
  });

  it('an adopted spare is adopted as a spare', () => {
    const entry = { id: 'r4', spare: true, pid: 55, address: ADDRESS, startedAtMs: 1, restarts: 0 };
    expect(adoptedSlot(entry, 'SERVING', 2_000).state).toMatchObject({
      role: 'spare',
      phase: { kind: 'spare' },
    });
    expect(adoptedSlot({ ...entry, spare: undefined }, 'SERVING', 2_000).state.phase.kind).toBe('serving');
  });
});
