import { afterEach, describe, expect, it } from 'vitest';
import type { ManagerStatus } from '../src/client/manager-client.js';
import { managerClient } from '../src/client/manager-client.js';
import { exited } from '../src/common/hedge-process.js';
import { isAlive } from '../src/common/process-state.js';
import { deadlineAfter, invoke } from '../src/common/rpc.js';
import { verifyDatabase } from '../src/common/verify-database.js';
import type { Membership__Output } from '../src/gen/hedge/v1/Membership.js';
import { type Cluster, serving, startCluster } from './support/cluster.js';
import { tradeMany } from './support/load.js';
import { signalFound } from './support/processes.js';

const spares = (s: ManagerStatus) => s.replicas.filter((r) => r.state === 'REPLICA_STATE_SPARE');

async function membership(c: Cluster): Promise<Membership__Output> {
  const client = managerClient(c.managerAddress);
  try {
    return await invoke((cb) => client.GetMembership({}, { deadline: deadlineAfter(5_000) }, cb));
  } finally {
    client.close();
  }
}

describe('warm spares (real manager, real replica processes)', () => {
  let cluster: Cluster | undefined;
  afterEach(async () => {
    await cluster?.stop();
    cluster = undefined;
  });

  /** A cluster (three members and, by default, one warm spare) once its spare is ready. */
  async function ready(args: string[] = []) {
    const c = await startCluster(args);
    cluster = c;
    const status = await c.waitFor(
      'three serving and a warm spare',
      (s) => serving(s).length === 3 && spares(s).length === 1,
    );
    return { c, status };
  }

  it('starts one warm spare by default: ready, answering, out of the view', async () => {
    const { c, status } = await ready();
    const [spare] = spares(status);
    expect(status.spares).toBe(1);
    expect(spare).toMatchObject({ id: 'r4', spare: true });
    expect(isAlive(spare?.pid ?? 0)).toBe(true);
    const view = await membership(c);
    expect(view.members.map((m) => m.id)).toEqual(['r1', 'r2', 'r3']);
    expect(view.members.some((m) => m.address === spare?.address)).toBe(false);
  });

  it('a SIGSTOPped replica is replaced by the warm spare, and a new spare is started in its slot', async () => {
    const { c, status } = await ready();
    const [spare] = spares(status);
    const hung = serving(status)[1];
    const viewBefore = BigInt((await membership(c)).view);
    signalFound(hung?.pid, 'SIGSTOP');
    const after = await c.waitFor(
      'the spare in the view and a new spare in the hung slot',
      (s) =>
        serving(s).some((r) => r.id === spare?.id && r.pid === spare?.pid) &&
        spares(s).some((r) => r.id === hung?.id && r.pid !== hung?.pid),
    );
    expect(serving(after)).toHaveLength(3);
    expect(after.replicas.find((r) => r.id === hung?.id)?.last_fault_cause).toBe('heartbeat');
    // The stopped process was killed (SIGKILL works on a stopped process).
    expect(isAlive(hung?.pid ?? 0)).toBe(false);
    const view = await membership(c);
    expect(BigInt(view.view)).toBeGreaterThan(viewBefore);
    expect(view.members.map((m) => m.address)).toContain(spare?.address);
    expect(view.members.map((m) => m.address)).not.toContain(hung?.address);
  });

  it('a crashed replica under load: the spare takes its place, no call fails, and the spare count comes back', async () => {
    const { c, status } = await ready();
    const [spare] = spares(status);
    const victim = serving(status)[0];
    const sessions = await Promise.all(Array.from({ length: 4 }, () => c.session('active')));
    const result = await tradeMany(sessions, c.quotes, 300, {
      after: 100,
      action: () => {
        signalFound(victim?.pid, 'SIGKILL');
      },
    });
    expect(result.failed).toEqual([]);
    const after = await c.waitFor(
      'three serving and one warm spare again',
      (s) =>
        serving(s).length === 3 &&
        spares(s).length === 1 &&
        spares(s).some((r) => r.id === victim?.id && r.pid !== victim?.pid),
    );
    expect(serving(after).map((r) => r.id)).toContain(spare?.id);
    expect(after.replicas.find((r) => r.id === victim?.id)).toMatchObject({
      restarts: 1,
      last_fault_cause: 'exit',
    });
    expect(Number(after.recoveries)).toBe(1);
    const report = await verifyDatabase(c.db.pool);
    expect(report.violations).toEqual([]);
    expect(report.duplicate_effects).toBe(0);
  });

  it('rejuvenation under load: replicas past their age are replaced by spares one at a time, and no call fails', async () => {
    const { c, status } = await ready(['--rejuvenate-age', '4s']);
    const first = new Map(status.replicas.map((r) => [r.id, r.pid]));
    // A long budget per call: on a loaded 2-core machine a call can take seconds; the point is
    // that none fails because a replica was retired under it, not how fast it is.
    const sessions = await Promise.all([
      ...Array.from({ length: 3 }, () => c.session('active', { deadlineMs: 30_000 })),
      ...Array.from({ length: 2 }, () => c.session('passive', { deadlineMs: 30_000 })),
    ]);
    // Trading until at least one replica has been rejuvenated while the load ran.
    let rejuvenated = 0;
    let rounds = 0;
    while (rejuvenated === 0 || rounds < 2) {
      const result = await tradeMany(sessions, c.quotes, 150);
      expect(result.failed).toEqual([]);
      const now = await c.status();
      rejuvenated = now.replicas.filter((r) => r.restarts > 0).length;
      rounds += 1;
      if (rounds > 40)
        throw new Error(`no rejuvenation after ${rounds} rounds: ${JSON.stringify(now.replicas)}`);
    }
    const after = await c.waitFor(
      'three serving and a warm spare',
      (s) => serving(s).length === 3 && spares(s).length === 1,
    );
    // Rejuvenation is not a fault: none counted, none recorded.
    expect(Number(after.faults)).toBe(0);
    expect(after.replicas.every((r) => r.last_fault === '')).toBe(true);
    const replaced = after.replicas.filter((r) => r.restarts > 0);
    expect(replaced.length).toBeGreaterThan(0);
    for (const r of replaced) expect(r.pid).not.toBe(first.get(r.id));
    const report = await verifyDatabase(c.db.pool);
    expect(report.violations).toEqual([]);
    expect(report.duplicate_effects).toBe(0);
  });

  it('a restarted manager adopts the warm spare as a spare as well as the serving replicas', async () => {
    const { c, status } = await ready();
    c.manager.kill('SIGKILL');
    await exited(c.manager);
    for (const r of status.replicas) expect(isAlive(r.pid)).toBe(true);
    await c.restartManager();
    const adopted = await c.waitFor(
      'the same four processes adopted',
      (s) => serving(s).length === 3 && spares(s).length === 1,
    );
    const byId = (s: ManagerStatus) => s.replicas.map((r) => [r.id, r.pid, r.state]).sort();
    expect(byId(adopted)).toEqual(byId(status));
    // The adopted spare still does its job: a crash is covered by it.
    const [spare] = spares(adopted);
    const victim = serving(adopted)[2];
    signalFound(victim?.pid, 'SIGKILL');
    await c.waitFor(
      'the adopted spare in the view',
      (s) => serving(s).some((r) => r.id === spare?.id) && spares(s).some((r) => r.id === victim?.id),
    );
  });
});
