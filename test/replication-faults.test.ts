import { type ChildProcess, spawn } from 'node:child_process';
import { setPriority } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { isAlive } from '../src/common/process-state.js';
import { verifyDatabase } from '../src/common/verify-database.js';
import { type Cluster, report, serving, startCluster } from './support/cluster.js';
import { tradeMany } from './support/load.js';

describe('replication under faults (real manager, real replica processes, really killed)', () => {
  let cluster: Cluster | undefined;
  const busyLoops: ChildProcess[] = [];
  afterEach(async () => {
    for (const loop of busyLoops.splice(0)) loop.kill('SIGKILL');
    await cluster?.stop();
    cluster = undefined;
  });

  async function expectExactlyOnce(c: Cluster, trades: number) {
    const report = await verifyDatabase(c.db.pool);
    expect(report.violations).toEqual([]);
    expect(report.duplicate_effects).toBe(0);
    const { rows } = await c.db.pool.query('SELECT count(*)::int AS n FROM trades');
    expect(rows[0].n).toBe(trades);
  }

  /**
   * A fresh cluster and `trades` trades from `sessions` sessions in `mode`; after the
   * first `after` of them, `signal` goes to the serving replica at `index`. Returns the
   * cluster, the load's result, the replica signalled and when.
   */
  async function tradeThroughFault(fault: {
    mode: 'active' | 'passive';
    sessions: number;
    trades: number;
    after: number;
    index: number;
    signal: 'SIGKILL' | 'SIGSTOP';
  }) {
    const c = await startCluster();
    cluster = c;
    const sessions = await Promise.all(Array.from({ length: fault.sessions }, () => c.session(fault.mode)));
    let victim = { id: '', pid: 0 };
    let signalledAt = 0;
    const result = await tradeMany(sessions, c.quotes, fault.trades, {
      after: fault.after,
      action: async () => {
        const target = serving(await c.status())[fault.index];
        victim = { id: target?.id ?? '', pid: target?.pid ?? 0 };
        process.kill(victim.pid, fault.signal);
        signalledAt = Date.now();
      },
    });
    return { c, result, victim, signalledAt };
  }

  it('active: 1,000 trades while a replica is SIGKILLed mid-stream: none fails, each runs once, three serve again', async () => {
    const { c, result, victim } = await tradeThroughFault({
      mode: 'active',
      sessions: 8,
      trades: 1_000,
      after: 250,
      index: 1,
      signal: 'SIGKILL',
    });
    expect(result.failed).toEqual([]);
    expect(result.ok).toBe(1_000);
    await expectExactlyOnce(c, 1_000);
    // The warm spare took its place; its slot's replacement is the new spare.
    const status = await c.waitFor(
      'three serving replicas and the killed one replaced',
      (s) =>
        serving(s).length === 3 &&
        s.replicas.some((r) => r.id === victim.id && r.pid !== 0 && r.pid !== victim.pid && r.restarts === 1),
    );
    const replaced = status.replicas.find((r) => r.id === victim.id);
    expect(replaced?.pid).not.toBe(victim.pid);
    expect(replaced?.last_fault_cause).toBe('exit');
    // The killed replica failed some attempts, and other replicas answered those calls.
    expect(result.telemetry.some((t) => t.failures.some((f) => f.replica === victim.id))).toBe(true);
  });

  it('active: a SIGSTOPped replica: calls keep completing, the heartbeat catches it and it is replaced', async () => {
    const { c, result, victim, signalledAt } = await tradeThroughFault({
      mode: 'active',
      sessions: 6,
      trades: 400,
      after: 100,
      index: 0,
      signal: 'SIGSTOP',
    });
    expect(result.failed).toEqual([]);
    // Calls did run while it was stopped, and other replicas answered them. (Not "none by its
    // id": its replacement keeps the slot's id and now joins within a few tens of ms.)
    const later = result.telemetry.filter((t) => t.startMs > signalledAt);
    expect(later.some((t) => t.answeredBy !== undefined && t.answeredBy !== victim.id)).toBe(true);
    const status = await c.waitFor(
      'the hung replica replaced',
      (s) => serving(s).length === 3 && s.replicas.some((r) => r.id === victim.id && r.pid !== victim.pid),
    );
    expect(status.replicas.find((r) => r.id === victim.id)?.last_fault_cause).toBe('heartbeat');
    // The manager killed the stopped process (SIGKILL works on a stopped process).
    expect(isAlive(victim.pid)).toBe(false);
    await expectExactlyOnce(c, 400);
  });

  it('a replica starved of CPU (nice 19 beside two busy loops) but alive is not replaced, and the cluster keeps serving', async () => {
    const c = await startCluster();
    cluster = c;
    const before = serving(await c.status());
    // The first serving replica is the passive sessions' primary, and the one reported: the
    // test reports it to the manager itself, every 200 ms, as a client whose attempt timed out
    // would (whether the passive clients' own attempts time out depends on the machine).
    const starved = before[0];
    const sessions = await Promise.all([
      ...Array.from({ length: 4 }, () => c.session('active', { deadlineMs: 30_000 })),
      // Passive attempts give the starved primary 1 s, then fail over; the calls' budget is
      // long because everything on a machine whose cores two loops keep busy is slow, and
      // the point here is that no call fails, not how fast it is.
      ...Array.from({ length: 2 }, () =>
        c.session('passive', { attemptTimeoutMs: 1_000, deadlineMs: 30_000 }),
      ),
    ]);
    // Priority of pid 0 would be this test process's own.
    if (!starved?.pid) throw new Error('no serving replica to starve');
    setPriority(starved.pid, 19);
    // One busy loop per core (2 here): the starved replica runs only in the gaps they leave it.
    for (let i = 0; i < 2; i++)
      busyLoops.push(spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' }));
    // Trading only once the loops spin, so that the starved replica is loaded while starved.
    await delay(1_000);
    const answers: boolean[] = [];
    const reporting = (async () => {
      const until = Date.now() + 8_000;
      while (Date.now() < until) {
        answers.push((await report(c, starved?.id ?? '', starved?.address)).confirmed);
        await delay(200);
      }
    })();
    const [result] = await Promise.all([tradeMany(sessions, c.quotes, 400), reporting]);
    for (const loop of busyLoops.splice(0)) loop.kill('SIGKILL');
    expect(result.failed).toEqual([]);
    // Every report about the starved but live replica was judged and refused.
    expect(answers.length).toBeGreaterThan(0);
    expect(answers.every((confirmed) => !confirmed)).toBe(true);
    const status = await c.waitFor('three serving replicas', (s) => serving(s).length === 3);
    // The same three processes, none ever replaced.
    expect(serving(status).map((r) => [r.id, r.pid, r.restarts])).toEqual(
      before.map((r) => [r.id, r.pid, 0]),
    );
    await expectExactlyOnce(c, 400);
  });

  it('passive: the primary killed mid-stream; calls fail over with the same request id; nothing runs twice', async () => {
    const {
      c,
      result,
      victim: primary,
    } = await tradeThroughFault({
      mode: 'passive',
      sessions: 4,
      trades: 400,
      after: 100,
      index: 0,
      signal: 'SIGKILL',
    });
    expect(result.failed).toEqual([]);
    // Before the kill every call went to the primary alone.
    expect(result.telemetry.slice(0, 50).every((t) => t.answeredBy === primary.id && t.attempts === 1)).toBe(
      true,
    );
    // Calls caught by the kill failed on the primary and were answered by a backup under the same request id.
    const failedOver = result.telemetry.filter((t) => t.failures.some((f) => f.replica === primary.id));
    expect(failedOver.length).toBeGreaterThan(0);
    for (const t of failedOver) {
      expect(t.answeredBy).not.toBe(primary.id);
      const { rows } = await c.db.pool.query('SELECT count(*)::int AS n FROM trades WHERE request_id = $1', [
        t.requestId,
      ]);
      expect(rows[0].n).toBe(1);
    }
    await expectExactlyOnce(c, 400);
  });
});
