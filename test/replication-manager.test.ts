import { type AddressInfo, createServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { fetchMembership, managerClient } from '../src/client/manager-client.js';
import { MembershipWatcher, type View } from '../src/client/membership-watcher.js';
import { exited, spawnHedge, stopChild } from '../src/common/hedge-process.js';
import { isAlive, signalQuietly } from '../src/common/process-state.js';
import { deadlineAfter, invoke } from '../src/common/rpc.js';
import type { Membership__Output } from '../src/gen/hedge/v1/Membership.js';
import { readRegistry, registryPath } from '../src/replication-manager/registry.js';
import { backoffMs } from '../src/replication-manager/slot-machine.js';
import { type Cluster, report, serving, startCluster } from './support/cluster.js';
import { createTestDatabase } from './support/database.js';
import { startTestFeed } from './support/feed.js';
import { tradeMany } from './support/load.js';
import { signalFound } from './support/processes.js';
import { waitFor } from './support/wait.js';

describe('the replication manager', () => {
  let cluster: Cluster | undefined;
  afterEach(async () => {
    await cluster?.stop();
    cluster = undefined;
  });

  it('does not kill a healthy replica on a client fault report, and does kill a hung one', async () => {
    // Heartbeats rare enough that no check catches the hang (the /proc watch may still see the
    // stop first); no spare, so that the replacement takes the slot and its id.
    const c = await startCluster(['--heartbeat-interval', '60s', '--spares', '0']);
    cluster = c;
    const [healthy, hung] = serving(await c.status());
    expect(await report(c, healthy?.id ?? '')).toEqual({ confirmed: false });
    const after = (await c.status()).replicas.find((r) => r.id === healthy?.id);
    expect(after).toMatchObject({ pid: healthy?.pid, state: 'REPLICA_STATE_SERVING', restarts: 0 });

    signalFound(hung?.pid, 'SIGSTOP');
    // A report naming the slot but another process's address is about an earlier incarnation.
    expect(await report(c, hung?.id ?? '', '127.0.0.1:1')).toEqual({ confirmed: false });
    const { confirmed } = await report(c, hung?.id ?? '', hung?.address);
    const replaced = await c.waitFor('the hung replica replaced', (s) =>
      s.replicas.some((r) => r.id === hung?.id && r.state === 'REPLICA_STATE_SERVING' && r.pid !== hung?.pid),
    );
    const replacement = replaced.replicas.find((r) => r.id === hung?.id);
    // The report confirmed the hang, unless the process watch (state T in /proc) had already.
    expect(replacement?.last_fault_cause).toBe(confirmed ? 'client report' : 'heartbeat');
    expect(isAlive(hung?.pid ?? 0)).toBe(false);
    // A late report about the killed process leaves its replacement alone.
    expect(await report(c, hung?.id ?? '', hung?.address)).toEqual({ confirmed: false });
    const later = (await c.status()).replicas.find((r) => r.id === hung?.id);
    expect(later).toMatchObject({ pid: replacement?.pid, state: 'REPLICA_STATE_SERVING' });
    // And the healthy one, reported at the start, is still the same process.
    expect((await c.status()).replicas.find((r) => r.id === healthy?.id)).toMatchObject({
      pid: healthy?.pid,
      restarts: 0,
    });
  });

  it('is not on the request path: killed, trading goes on; restarted, it adopts the live replicas', async () => {
    // No spare: the adopted replica's replacement takes its slot (warm-spares.test.ts adopts spares).
    const c = await startCluster(['--spares', '0']);
    cluster = c;
    const before = serving(await c.status());
    const sessions = await Promise.all(Array.from({ length: 4 }, () => c.session('active')));
    const result = await tradeMany(sessions, c.quotes, 300, {
      after: 50,
      action: () => {
        c.manager.kill('SIGKILL');
      },
    });
    expect(result.failed).toEqual([]);
    await exited(c.manager);
    // Every replica outlived its manager.
    for (const r of before) expect(isAlive(r.pid)).toBe(true);

    await c.restartManager();
    const adopted = await c.waitFor('three adopted replicas', (s) => serving(s).length === 3);
    expect(serving(adopted).map((r) => [r.id, r.pid])).toEqual(before.map((r) => [r.id, r.pid]));
    // The adopted replicas are supervised: a crash is still repaired.
    signalFound(before[0]?.pid, 'SIGKILL');
    await c.waitFor('the adopted replica replaced', (s) =>
      s.replicas.some(
        (r) => r.id === before[0]?.id && r.state === 'REPLICA_STATE_SERVING' && r.pid !== before[0]?.pid,
      ),
    );
    const more = await tradeMany(sessions, c.quotes, 50);
    expect(more.failed).toEqual([]);
  });

  it('killed and restarted during active trading: no call fails, and the new one never answers an empty view', async () => {
    const c = await startCluster();
    cluster = c;
    const before = serving(await c.status());
    const hung = before[2] as (typeof before)[number];
    const sessions = await Promise.all(Array.from({ length: 4 }, () => c.session('active')));
    // A client's membership watcher, connected before the kill: every view it takes, kept.
    const watcher = new MembershipWatcher(c.managerAddress);
    const views: View[] = [await watcher.start(5_000)];
    watcher.onChange((v) => views.push(v));
    // Every answer to GetMembership while the new manager comes up, over fresh channels.
    const answers: number[] = [];
    let probing = true;
    const prober = (async () => {
      while (probing) {
        const client = managerClient(c.managerAddress);
        const m = await fetchMembership(client, 1_000).catch(() => undefined);
        client.close();
        if (m) answers.push(m.members.length);
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    try {
      const result = await tradeMany(sessions, c.quotes, 1_200, {
        after: 50,
        action: async () => {
          c.manager.kill('SIGKILL');
          await exited(c.manager);
          // A hung replica makes the new manager's adoption take a while (its probe times
          // out, it is killed and replaced): long enough to see what it answers meanwhile.
          process.kill(hung.pid, 'SIGSTOP');
          const answeredBefore = answers.length;
          await c.restartManager();
          await c.waitFor('three serving replicas', (s) => serving(s).length === 3);
          // The prober has heard the new manager (else the check below would prove nothing).
          await waitFor('an answer from the new manager', async () => answers.length > answeredBefore);
        },
      });
      expect(result.failed).toEqual([]);
      await waitFor('the watcher to hear the new manager', async () => views.length > 1);
    } finally {
      probing = false;
      await prober;
      watcher.close();
    }
    // It answers nothing until it has adopted or replaced the replicas: never a view without them.
    expect(answers.filter((n) => n !== 3)).toEqual([]);
    expect(isAlive(hung.pid)).toBe(false);
    expect(views.map((v) => v.members.map((m) => m.id))).toEqual(views.map(() => before.map((r) => r.id)));
    expect(watcher.view.number).toBeGreaterThan(views[0]?.number ?? 0n);
  });

  it('streams every new view: a replaced replica leaves it and its replacement joins it', async () => {
    // No spare: the replacement is a process start, and the view shrinks meanwhile (with a spare it is one swap).
    const c = await startCluster(['--spares', '0']);
    cluster = c;
    const client = managerClient(c.managerAddress);
    const views: Membership__Output[] = [];
    const stream = client.WatchMembership({});
    stream.on('data', (m: Membership__Output) => views.push(m));
    stream.on('error', () => {});
    try {
      while (views.length === 0) await new Promise((r) => setTimeout(r, 20));
      const first = views[0] as Membership__Output;
      expect(first.members.map((m) => m.id)).toEqual(['r1', 'r2', 'r3']);
      const victim = first.members[1];
      const pid = (await c.status()).replicas.find((r) => r.id === victim?.id)?.pid ?? 0;
      process.kill(pid, 'SIGKILL');
      const deadline = Date.now() + 20_000;
      while (
        !views.some((v) => v.members.length === 3 && !v.members.some((m) => m.address === victim?.address))
      ) {
        if (Date.now() > deadline) throw new Error(`no view with the replacement: ${JSON.stringify(views)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      const numbers = views.map((v) => BigInt(v.view));
      expect(numbers).toEqual([...numbers].sort((a, b) => (a < b ? -1 : 1)));
      expect(new Set(numbers).size).toBe(numbers.length);
      expect(views.some((v) => v.members.length === 2 && !v.members.some((m) => m.id === victim?.id))).toBe(
        true,
      );
    } finally {
      stream.cancel();
      client.close();
    }
  });

  it('a replica still starting when its manager dies is killed by the next manager, not leaked', async () => {
    const feed = await startTestFeed();
    // A database that accepts connections and never answers: replicas stay starting.
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as AddressInfo;
    const startManager = () =>
      spawnHedge(
        ['manager', '--data-dir', feed.dataDir, '--replicas', '1', '--owner-pid', String(process.pid)],
        {
          lifeline: true,
          env: { DATABASE_URL: `postgres://nobody:nothing@127.0.0.1:${port}/none` },
        },
      );
    const registered = async (notPid?: number): Promise<number> => {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const pid = readRegistry(registryPath(feed.dataDir))?.replicas.find((r) => r.id === 'r1')?.pid;
        if (pid !== undefined && pid !== notPid) return pid;
        if (Date.now() > deadline) throw new Error('the starting replica was never registered');
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    const started: number[] = [];
    const first = startManager();
    let second: ReturnType<typeof startManager> | undefined;
    try {
      const orphan = await registered();
      started.push(orphan);
      first.child.kill('SIGKILL');
      await exited(first.child);
      expect(isAlive(orphan)).toBe(true);

      second = startManager();
      started.push(await registered(orphan));
      const deadline = Date.now() + 10_000;
      while (isAlive(orphan)) {
        if (Date.now() > deadline) throw new Error('the orphaned starting replica was left running');
        await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      first.child.kill('SIGKILL');
      second?.child.kill('SIGKILL');
      for (const pid of started) signalQuietly(pid, 'SIGKILL');
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => silent.close(resolve));
      await feed.stop();
    }
  });

  it('backs off when replacements fail in a loop', async () => {
    expect([1, 2, 3, 4, 5, 20].map(backoffMs)).toEqual([0, 250, 500, 1_000, 2_000, 30_000]);
    const db = await createTestDatabase();
    const feed = await startTestFeed();
    // Nothing listens there: every replica exits while starting.
    const manager = spawnHedge(
      ['manager', '--data-dir', feed.dataDir, '--replicas', '1', '--owner-pid', String(process.pid)],
      {
        lifeline: true,
        env: { DATABASE_URL: 'postgres://nobody:nothing@127.0.0.1:9/none' },
      },
    );
    try {
      const ready = await manager.ready;
      const client = managerClient(String(ready.address));
      const deadline = Date.now() + 20_000;
      let last: Awaited<ReturnType<Cluster['status']>> | undefined;
      for (;;) {
        last = await invoke((cb) => client.GetStatus({}, { deadline: deadlineAfter(2_000) }, cb));
        const r1 = last?.replicas[0];
        if (r1?.state === 'REPLICA_STATE_BACKING_OFF' && r1.restarts >= 2) break;
        if (Date.now() > deadline) throw new Error(`never backed off: ${JSON.stringify(last?.replicas)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(last?.replicas[0]?.last_fault_cause).toMatch(/^(exit|start)$/);
      expect(serving(last as never)).toEqual([]);
      client.close();
    } finally {
      await stopChild(manager.child);
      await feed.stop();
      await db.drop();
    }
  });
});
