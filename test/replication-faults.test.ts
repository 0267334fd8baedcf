import { afterEach, describe, expect, it } from 'vitest';
import { isAlive } from '../src/common/process-state.js';
import { verifyDatabase } from '../src/common/verify-database.js';
import { type Cluster, serving, startCluster } from './support/cluster.js';
import { tradeMany } from './support/load.js';

describe('replication under faults (real manager, real replica processes, really killed)', () => {
  let cluster: Cluster | undefined;
  afterEach(async () => {
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

  it('active: 1,000 trades while a replica is SIGKILLed mid-stream: none fails, each runs once, three serve again', async () => {
    const c = await startCluster();
    cluster = c;
    const sessions = await Promise.all(Array.from({ length: 8 }, () => c.session('active')));
    let victim = { id: '', pid: 0 };
    const result = await tradeMany(sessions, c.quotes, 1_000, {
      after: 250,
      action: async () => {
        const target = serving(await c.status())[1];
        victim = { id: target?.id ?? '', pid: target?.pid ?? 0 };
        process.kill(victim.pid, 'SIGKILL');
      },
    });
    expect(result.failed).toEqual([]);
    expect(result.ok).toBe(1_000);
    await expectExactlyOnce(c, 1_000);
    const status = await c.waitFor('three serving replicas', (s) => serving(s).length === 3);
    const replaced = status.replicas.find((r) => r.id === victim.id);
    expect(replaced?.pid).not.toBe(victim.pid);
    expect(replaced?.restarts).toBe(1);
    expect(replaced?.last_fault_cause).toBe('exit');
    // The killed replica failed some attempts, and other replicas answered those calls.
    expect(result.telemetry.some((t) => t.failures.some((f) => f.replica === victim.id))).toBe(true);
  });

  it('active: a SIGSTOPped replica: calls keep completing, the heartbeat catches it and it is replaced', async () => {
    const c = await startCluster();
    cluster = c;
    const sessions = await Promise.all(Array.from({ length: 6 }, () => c.session('active')));
    let victim = { id: '', pid: 0 };
    let stoppedAt = 0;
    const result = await tradeMany(sessions, c.quotes, 400, {
      after: 100,
      action: async () => {
        const target = serving(await c.status())[0];
        victim = { id: target?.id ?? '', pid: target?.pid ?? 0 };
        process.kill(victim.pid, 'SIGSTOP');
        stoppedAt = Date.now();
      },
    });
    expect(result.failed).toEqual([]);
    // Calls did run while it was stopped, and other replicas answered them.
    const later = result.telemetry.filter((t) => t.startMs > stoppedAt);
    expect(later.length).toBeGreaterThan(0);
    expect(later.every((t) => t.answeredBy !== victim.id)).toBe(true);
    const status = await c.waitFor(
      'the hung replica replaced',
      (s) => serving(s).length === 3 && s.replicas.some((r) => r.id === victim.id && r.pid !== victim.pid),
    );
    expect(status.replicas.find((r) => r.id === victim.id)?.last_fault_cause).toBe('heartbeat');
    // The manager killed the stopped process (SIGKILL works on a stopped process).
    expect(isAlive(victim.pid)).toBe(false);
    await expectExactlyOnce(c, 400);
  });

  it('passive: the primary killed mid-stream; calls fail over with the same request id; nothing runs twice', async () => {
    const c = await startCluster();
    cluster = c;
    const sessions = await Promise.all(Array.from({ length: 4 }, () => c.session('passive')));
    let primary = { id: '', pid: 0 };
    const result = await tradeMany(sessions, c.quotes, 400, {
      after: 100,
      action: async () => {
        const target = serving(await c.status())[0];
        primary = { id: target?.id ?? '', pid: target?.pid ?? 0 };
        process.kill(primary.pid, 'SIGKILL');
      },
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
