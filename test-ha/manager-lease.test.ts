import { readdirSync } from 'node:fs';
import { expect, it } from 'vitest';
import { fetchMembership, fetchStatusFrom, managerClient } from '../src/client/manager-client.js';
import { commandLine, signalQuietly } from '../src/common/process-state.js';
import { isHedgeReplica } from '../src/common/replica-process.js';
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

/** Every live replica process of this system (its data directory), by pid: whichever manager started it. */
function replicaPidsOf(dataDir: string): number[] {
  return readdirSync('/proc')
    .map(Number)
    .filter((pid) => Number.isInteger(pid) && isHedgeReplica(pid) && commandLine(pid).includes(dataDir))
    .sort((a, b) => a - b);
}

/** Each slot's serving process, as the manager at `address` tells, once every slot of `expected` serves. */
async function servingPids(address: string, expected: number, not: number[] = []): Promise<number[]> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const status = await fetchStatusFrom(address, 10_000).catch(() => undefined);
    const pids = (status?.replicas ?? [])
      .filter((r) => r.state === 'REPLICA_STATE_SERVING' || r.state === 'REPLICA_STATE_SPARE')
      .map((r) => r.pid);
    if (pids.length === expected && !pids.some((pid) => not.includes(pid))) return pids.sort((a, b) => a - b);
    if (Date.now() > deadline)
      throw new Error(`not every slot serves at ${address}: ${JSON.stringify(status)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

it('an active manager SIGSTOPped past its lease, resumed after the standby took over and replaced a replica, stands down without spawning or killing one', async () => {
  const s = await startHaSystem({ managers: 2 });
  held.sys = s;
  const [activeAddress, standbyAddress] = s.managerAddresses as [string, string];
  const active = s.managers[0];
  const activePid = active?.child.pid as number;
  const slots = (await fetchStatusFrom(activeAddress, 10_000)).replicas.length;
  await servingPids(activeAddress, slots);

  signalQuietly(activePid, 'SIGSTOP');
  s.stopped.push(activePid);
  await answering(standbyAddress);
  const adopted = await servingPids(standbyAddress, slots);
  // A replica dies while the old active manager is paused: on resuming it sees the exit (the
  // replica was its child) at once, and would replace it beside the standby's replacement.
  const victim = adopted[0] as number;
  signalQuietly(victim, 'SIGKILL');
  const replaced = await servingPids(standbyAddress, slots, [victim]);

  const exit = new Promise<number | null>((resolve) => active?.child.once('exit', (code) => resolve(code)));
  s.stopped.splice(s.stopped.indexOf(activePid), 1);
  signalQuietly(activePid, 'SIGCONT');
  // It stood down: the lease was past its bound by its own clock before anything it did.
  expect(await exit).toBe(1);
  // Every replica process of the system is one the standby, now active, supervises: none was
  // spawned by the resumed manager, and the standby's were not killed.
  expect(await servingPids(standbyAddress, slots)).toEqual(replaced);
  expect(replicaPidsOf(s.dataDir)).toEqual(replaced);
});

it('SIGTERM of the active manager hands over: the lease is released, the standby adopts every replica process, none stopped, and no call fails', async () => {
  const s = await startHaSystem({ managers: 2 });
  held.sys = s;
  const [activeAddress, standbyAddress] = s.managerAddresses as [string, string];
  const active = s.managers[0];
  const sessions = await Promise.all([s.session('active'), s.session('passive')]);
  const slots = (await fetchStatusFrom(activeAddress, 10_000)).replicas.length;
  const before = await servingPids(activeAddress, slots);
  const stream = new TradeStream(sessions, s.quotes);
  held.stream = stream;
  await stream.acknowledge(20);

  const exit = new Promise<number | null>((resolve) => active?.child.once('exit', (code) => resolve(code)));
  active?.child.kill('SIGTERM');
  expect(await exit).toBe(0);
  await answering(standbyAddress);
  await stream.acknowledge(40);
  await stream.stop();

  expect(stream.failed).toEqual([]);
  // The same processes serve: the active manager left them running, the standby adopted them.
  expect(await servingPids(standbyAddress, slots)).toEqual(before);
  expect(replicaPidsOf(s.dataDir)).toEqual(before);
});
