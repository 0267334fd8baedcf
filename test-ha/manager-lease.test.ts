import { expect, it } from 'vitest';
import { fetchMembership, fetchStatusFrom, managerClient } from '../src/client/manager-client.js';
import { answering, type HaSystem, startHaSystem, stopAfterEach } from './support/ha-system.js';
import { TradeStream } from './support/trade-stream.js';

const held = stopAfterEach();

/** Each replica slot's process and restarts: a spawn or a kill by either manager would change them. */
async function replicaProcesses(s: HaSystem): Promise<string[]> {
  const status = await s.status();
  return status.replicas.map((r) => `${r.id} pid ${r.pid} restarts ${r.restarts}`).sort();
}

it('two managers, one active through an etcd lease: SIGKILL of the active one mid-trading, the standby takes over, adopts every replica, and no call fails', async () => {
  const s = await startHaSystem({ managers: 2 });
  held.sys = s;
  const [activeAddress, standbyAddress] = s.managerAddresses as [string, string];
  const sessions = await Promise.all([
    s.session('active'),
    s.session('active'),
    s.session('passive'),
    s.session('passive'),
  ]);
  // Only the active manager serves (and supervises); the standby does not even listen.
  await fetchStatusFrom(activeAddress);
  await expect(fetchStatusFrom(standbyAddress, 1_000)).rejects.toThrow();
  const stream = new TradeStream(sessions, s.quotes);
  held.stream = stream;
  await stream.acknowledge(40);
  const before = await replicaProcesses(s);
  expect(before.length).toBeGreaterThanOrEqual(3);
  const viewBefore = sessions[0]?.client.currentView.number ?? -1n;

  s.managers[0]?.child.kill('SIGKILL');
  const killedAt = Date.now();
  await answering(standbyAddress);
  const tookOverMs = Date.now() - killedAt;
  await stream.acknowledge(60);
  await stream.stop();
  process.stdout.write(
    `[ha] active manager SIGKILLed: the standby answered ${tookOverMs} ms later; ` +
      `longest client-visible pause ${stream.longestPauseMs(killedAt)} ms\n`,
  );

  expect(stream.failed).toEqual([]);
  // The same processes in every slot, none restarted: the standby adopted them, nobody spawned or killed one.
  expect(await replicaProcesses(s)).toEqual(before);
  // The view goes on from where the dead manager left it, and clients still have every replica.
  const client = managerClient(standbyAddress);
  try {
    const view = await fetchMembership(client, 5_000);
    expect(BigInt(view.view)).toBeGreaterThanOrEqual(viewBefore);
    expect(view.members.length).toBeGreaterThanOrEqual(3);
  } finally {
    client.close();
  }
  for (const session of sessions) expect(session.client.currentView.members.length).toBeGreaterThanOrEqual(3);
});
