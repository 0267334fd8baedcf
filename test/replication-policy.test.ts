import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { runCall } from '../src/client/call-engine.js';
import { ReplicaChannels } from '../src/client/replica-channels.js';
import { REPLICATION_MODES } from '../src/client/replication-mode.js';
import { POLICIES, RESUMABLE_STREAM, replicationPolicies } from '../src/client/replication-policy.js';
import { isRetryable, retryability } from '../src/common/errors.js';
import type { Portfolio } from '../src/gen/hedge/v1/Portfolio.js';
import { useFakeReplicas } from './support/fake-replicas.js';
import { GET_PORTFOLIO, PORTFOLIO_CALL } from './support/portfolio-call.js';

describe('the replication policies as values', () => {
  it('one value per mode: how many replicas first, when the rest, when an attempt is abandoned', () => {
    expect(Object.keys(POLICIES).sort()).toEqual([...REPLICATION_MODES].sort());
    const shape = Object.fromEntries(
      REPLICATION_MODES.map((m) => {
        const { fanOut, hedgeDelayMs, attemptTimeoutMs, rotate, replaceFailed } = POLICIES[m];
        return [m, { fanOut, hedgeDelayMs, attemptTimeoutMs, rotate, replaceFailed }];
      }),
    );
    expect(shape).toEqual({
      active: {
        fanOut: 'all',
        hedgeDelayMs: undefined,
        attemptTimeoutMs: undefined,
        rotate: false,
        replaceFailed: false,
      },
      passive: {
        fanOut: 1,
        hedgeDelayMs: undefined,
        attemptTimeoutMs: 1_000,
        rotate: false,
        replaceFailed: true,
      },
      hedged: {
        fanOut: 2,
        hedgeDelayMs: undefined,
        attemptTimeoutMs: undefined,
        rotate: true,
        replaceFailed: false,
      },
      deferred: {
        fanOut: 1,
        hedgeDelayMs: undefined,
        attemptTimeoutMs: undefined,
        rotate: false,
        replaceFailed: true,
      },
    });
    // The deferred mode's second copy waits for the p95 of the method's recent calls (20 ms before any).
    expect(POLICIES.deferred.adaptiveHedge).toMatchObject({ count: 1 });
    expect(POLICIES.deferred.adaptiveHedge?.delayMs('/any')).toBe(20);
    // Passive alone remembers a replica that timed out, and tries it last for a while.
    expect(REPLICATION_MODES.filter((m) => POLICIES[m].demoteSilentMs !== undefined)).toEqual(['passive']);
    expect(POLICIES.passive.demoteSilentMs).toBe(10_000);
    // A stream that writes to a sink goes to one replica at a time and may take as long as the log does.
    expect(RESUMABLE_STREAM).toMatchObject({ fanOut: 1, attemptTimeoutMs: undefined, replaceFailed: true });
  });

  it("the client's hedge options tune the hedged value only; the attempt timeout tunes every one", () => {
    const tuned = replicationPolicies({ hedgeSize: 3, hedgeDelayMs: 40, attemptTimeoutMs: 250 });
    expect(tuned.hedged).toMatchObject({ fanOut: 3, hedgeDelayMs: 40, attemptTimeoutMs: 250 });
    expect(tuned.active).toMatchObject({ fanOut: 'all', attemptTimeoutMs: 250 });
    expect(tuned.passive).toMatchObject({ fanOut: 1, attemptTimeoutMs: 250 });
    expect([tuned.active.hedgeDelayMs, tuned.passive.hedgeDelayMs]).toEqual([undefined, undefined]);
  });

  it('one decision of which status fails over, used by every policy', () => {
    const table = Object.fromEntries(
      Object.entries(status)
        .filter(([, v]) => typeof v === 'number')
        .map(([name, code]) => [name, retryability(code as status)]),
    );
    expect(table).toEqual({
      OK: 'final',
      CANCELLED: 'retry',
      UNKNOWN: 'retry-repeats',
      INVALID_ARGUMENT: 'final',
      DEADLINE_EXCEEDED: 'retry',
      NOT_FOUND: 'final',
      ALREADY_EXISTS: 'final',
      PERMISSION_DENIED: 'final',
      RESOURCE_EXHAUSTED: 'retry-repeats',
      FAILED_PRECONDITION: 'final',
      ABORTED: 'final',
      OUT_OF_RANGE: 'final',
      UNIMPLEMENTED: 'final',
      INTERNAL: 'retry-repeats',
      UNAVAILABLE: 'retry',
      DATA_LOSS: 'final',
      UNAUTHENTICATED: 'final',
    });
    expect(isRetryable(status.UNAVAILABLE)).toBe(true);
    expect(isRetryable(status.FAILED_PRECONDITION)).toBe(false);
    for (const m of REPLICATION_MODES) expect(POLICIES[m].retryability).toBe(retryability);
  });
});

describe('which replicas each policy asks, against real gRPC servers', () => {
  const { replicas, connect: setUp, closeAll } = useFakeReplicas();

  /** Waits until the replicas got `total` calls together (copies still on their way after an answer). */
  async function callsReach(total: number): Promise<number[]> {
    while (replicas.reduce((n, r) => n + r.calls, 0) < total) await new Promise((r) => setTimeout(r, 5));
    return replicas.map((r) => r.calls);
  }

  it('active: the first attempt goes to every replica of the view', async () => {
    const client = await setUp(['ok', 'ok', 'ok'], { mode: 'active' });
    const result = await client.call<Portfolio>(GET_PORTFOLIO, {});
    expect(result.telemetry.attempts).toBe(3);
    expect(await callsReach(3)).toEqual([1, 1, 1]);
  });

  it('passive: only the first replica is asked; when it fails, the next one at once', async () => {
    const client = await setUp(['ok', 'ok', 'ok'], { mode: 'passive' });
    const first = await client.call<Portfolio>(GET_PORTFOLIO, {});
    expect(first.telemetry).toMatchObject({ answeredBy: 'r1', attempts: 1, failures: [] });
    expect(replicas.map((r) => r.calls)).toEqual([1, 0, 0]);
    closeAll();

    const failing = await setUp(['unavailable', 'ok', 'ok'], { mode: 'passive' });
    const second = await failing.call<Portfolio>(GET_PORTFOLIO, {});
    expect(second.telemetry.answeredBy).toBe('r2');
    expect(second.telemetry.failures.map((f) => [f.replica, f.code])).toEqual([['r1', status.UNAVAILABLE]]);
    expect(replicas.map((r) => r.calls)).toEqual([1, 1, 0]);
  });

  it('passive: an attempt on a silent replica is abandoned after the attempt timeout and failed over', async () => {
    const client = await setUp(['silent', 'ok', 'ok'], { mode: 'passive', attemptTimeoutMs: 200 });
    const result = await client.call<Portfolio>(GET_PORTFOLIO, {});
    // (On a loaded machine the next one may time out too: only the first failure is certain.)
    expect(result.telemetry.failures[0]).toMatchObject({ replica: 'r1', code: status.DEADLINE_EXCEEDED });
    expect(result.telemetry.answeredBy).not.toBe('r1');
    expect(replicas[1]?.calls).toBeGreaterThanOrEqual(1);
  });

  it('passive: a replica that timed out is tried last by the next calls of the client, until the view changes', async () => {
    await setUp(['silent', 'ok', 'ok'], { mode: 'passive' });
    const members = replicas.map((r, i) => ({ id: `r${i + 1}`, address: r.address }));
    const channels = new ReplicaChannels({ number: 1n, members }, undefined);
    try {
      const call = () =>
        runCall<Buffer>(channels, {
          ...PORTFOLIO_CALL,
          policy: POLICIES.passive,
          mode: 'passive',
          deadlineMs: 20_000,
        });
      const first = await call();
      expect(first.telemetry.failures[0]).toMatchObject({ replica: 'r1', code: status.DEADLINE_EXCEEDED });
      // The next calls go to an answering replica first: no second wait for the silent one.
      for (let i = 0; i < 4; i++) {
        const next = await call();
        expect(next.telemetry).toMatchObject({ attempts: 1, failures: [] });
        expect(next.telemetry.answeredBy).not.toBe('r1');
      }
      expect(replicas[0]?.calls).toBe(1);
      // A new view: the manager has judged the replicas again, and the view's order holds again.
      channels.applyView({ number: 2n, members });
      const after = await call();
      expect(after.telemetry.failures[0]).toMatchObject({ replica: 'r1', code: status.DEADLINE_EXCEEDED });
      expect(replicas[0]?.calls).toBe(2);
    } finally {
      channels.close();
    }
  });

  it('hedged: each call goes to two replicas, starting one further along the view each time', async () => {
    const client = await setUp(['ok', 'ok', 'ok'], { mode: 'hedged' });
    const seen: number[][] = [];
    for (let i = 1; i <= 3; i++) {
      const result = await client.call<Portfolio>(GET_PORTFOLIO, {});
      expect(result.telemetry.attempts).toBe(2);
      seen.push(await callsReach(2 * i));
    }
    expect(seen).toEqual([
      [1, 1, 0],
      [1, 2, 1],
      [2, 2, 2],
    ]);
  });

  it('deferred: one replica, the first of the view, while answers come within the delay', async () => {
    // The delay until the method's p95 is known, made longer than any answer here: a loaded
    // machine's first call (its TLS handshake) can take more than the default 20 ms.
    const client = await setUp(['ok', 'ok', 'ok'], { mode: 'deferred', hedgeDelayMs: 60_000 });
    for (let i = 1; i <= 3; i++) {
      const result = await client.call<Portfolio>(GET_PORTFOLIO, {});
      expect(result.telemetry.attempts).toBe(1);
    }
    expect(replicas.map((r) => r.calls)).toEqual([3, 0, 0]);
  });

  it('deferred: a silent replica gets one second copy sent to the next after the delay, not two', async () => {
    const client = await setUp(['silent', 'ok', 'ok'], { mode: 'deferred' });
    const result = await client.call<Portfolio>(GET_PORTFOLIO, {});
    expect(result.telemetry).toMatchObject({ answeredBy: 'r2', attempts: 2, failures: [] });
    expect(replicas.map((r) => r.calls)).toEqual([1, 1, 0]);
  });

  it('deferred: a failed first copy is replaced at once by the next replica', async () => {
    const client = await setUp(['unavailable', 'ok', 'ok'], { mode: 'deferred' });
    const result = await client.call<Portfolio>(GET_PORTFOLIO, {});
    expect(result.telemetry.answeredBy).toBe('r2');
    expect(result.telemetry.failures.map((f) => [f.replica, f.code])).toEqual([['r1', status.UNAVAILABLE]]);
  });

  it('hedged: when both first replicas fail, the one held back is asked in the next round', async () => {
    const client = await setUp(['unavailable', 'unavailable', 'ok'], { mode: 'hedged' });
    const result = await client.call<Portfolio>(GET_PORTFOLIO, {});
    expect(result.telemetry.answeredBy).toBe('r3');
    expect(result.telemetry.failures.map((f) => f.replica).sort()).toEqual(['r1', 'r2']);
    expect(replicas.map((r) => r.calls)).toEqual([1, 1, 1]);
  });
});
