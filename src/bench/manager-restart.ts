import { join } from 'node:path';
import { fetchMembership, fetchStatus, managerClient } from '../client/manager-client.js';
import { MembershipWatcher } from '../client/membership-watcher.js';
import { spawnHedge } from '../common/hedge-process.js';
import { ProcessGroup } from '../common/process-group.js';

export interface RestartRound {
  /** SIGKILL of the manager to the new process's first answer to GetMembership (any view). */
  firstAnswerMs: number;
  /** … to an answer naming every replica (the adopted ones). */
  fullViewMs: number;
  /** … to its ready message. */
  readyMs: number;
  /** … to a client's membership watcher, connected before the kill, hearing from the new manager. */
  watcherMs: number;
}

/** Polls GetMembership over a fresh channel each time, so no client-side reconnect back-off is measured. */
async function membershipOnce(address: string): Promise<number | undefined> {
  const client = managerClient(address);
  try {
    return (await fetchMembership(client, 200)).members.length;
  } catch {
    return undefined;
  } finally {
    client.close();
  }
}

/**
 * Runs a database, a manager with `replicas` replicas, and `rounds` times
 * SIGKILLs the manager and starts a new one on its port and data directory (as
 * `hedge up` does, without up's restart back-off), timing how soon the new one
 * answers membership.
 */
export async function measureManagerRestart(
  dataDir: string,
  replicas: number,
  rounds: number,
): Promise<RestartRound[]> {
  const group = new ProcessGroup(join(dataDir, 'logs'));
  const results: RestartRound[] = [];
  let manager: ReturnType<typeof spawnHedge> | undefined;
  try {
    const databaseUrl = String((await group.start('db', ['db', '--data-dir', dataDir])).databaseUrl);
    // Replicas need a feed's public key to start.
    const feed = String((await group.start('feed', ['feed', '--data-dir', dataDir])).address);
    const args = (port: number) => [
      'manager',
      '--data-dir',
      dataDir,
      '--port',
      String(port),
      '--replicas',
      String(replicas),
      '--owner-pid',
      String(process.pid),
      '--feed',
      feed,
    ];
    const env = { DATABASE_URL: databaseUrl };
    manager = spawnHedge(args(0), { lifeline: true, env, output: 'ignore' });
    const address = String((await manager.ready).address);
    const port = Number(address.slice(address.lastIndexOf(':') + 1));
    const status = managerClient(address);
    const serving = performance.now() + 60_000;
    for (;;) {
      const s = await fetchStatus(status, 2_000).catch(() => undefined);
      if (s?.replicas.filter((r) => r.state === 'REPLICA_STATE_SERVING').length === replicas) break;
      if (performance.now() > serving)
        throw new Error(`the replicas did not serve within 60 s; see ${group.logDir}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    status.close();
    for (let round = 0; round < rounds; round++) {
      const watcher = new MembershipWatcher(address);
      await watcher.start(5_000);
      let heard: number | undefined;
      const oldPid = manager.child.pid;
      const killedAt = performance.now();
      manager.child.kill('SIGKILL');
      await new Promise((r) => manager?.child.once('exit', r));
      // A new stream's first view: the watcher reconnected to the new manager.
      watcher.onChange(() => {
        heard ??= performance.now() - killedAt;
      });
      manager = spawnHedge(args(port), { lifeline: true, env, output: 'ignore' });
      let readyMs: number | undefined;
      void manager.ready.then(() => {
        readyMs = performance.now() - killedAt;
      });
      let firstAnswerMs: number | undefined;
      let fullViewMs: number | undefined;
      const deadline = performance.now() + 60_000;
      while (
        (fullViewMs === undefined || heard === undefined || readyMs === undefined) &&
        performance.now() < deadline
      ) {
        const members = await membershipOnce(address);
        const at = performance.now() - killedAt;
        if (members !== undefined) firstAnswerMs ??= at;
        if (members === replicas) fullViewMs ??= at;
        await new Promise((r) => setTimeout(r, 10));
      }
      watcher.close();
      if (
        fullViewMs === undefined ||
        firstAnswerMs === undefined ||
        readyMs === undefined ||
        heard === undefined
      )
        throw new Error(
          `round ${round + 1}: the restarted manager (after pid ${oldPid}) did not answer within 60 s`,
        );
      results.push({ firstAnswerMs, fullViewMs, readyMs, watcherMs: heard });
    }
  } finally {
    if (manager) manager.child.kill('SIGTERM');
    if (manager)
      await new Promise((r) =>
        manager?.child.exitCode !== null ? r(undefined) : manager.child.once('exit', r),
      );
    await group.stop();
  }
  return results;
}
