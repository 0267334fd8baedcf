import { describe, expect, it } from 'vitest';
import { descendantsOf } from '../test/support/processes.js';
import {
  expectEachAcknowledgedOnce,
  expectRejoinedWithPrimaryHistory,
  reportPause,
  sessionsOf,
} from './support/ha-checks.js';
import { type HaSystem, startHaSystem, stopAfterEach } from './support/ha-system.js';
import { TradeStream } from './support/trade-stream.js';

/** Every etcd member healthy, and every PostgreSQL node running under Patroni: a leader and two streaming standbys. */
async function allMembersBack(sys: HaSystem, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const etcd = await sys.cluster.etcdHealth();
    const members = await sys.cluster.members();
    const standbys = members.filter(
      // Patroni 3.0.2 lists a following standby as running (later versions: streaming).
      (m) =>
        (m.role === 'replica' || m.role === 'sync_standby') &&
        (m.state === 'running' || m.state === 'streaming'),
    );
    if (
      etcd.every(Boolean) &&
      members.some((m) => m.role === 'leader') &&
      standbys.length === 2 &&
      members.every((m) => m.postgresPid !== undefined)
    )
      return;
    if (Date.now() > deadline)
      throw new Error(
        `the cluster is not whole again: etcd ${JSON.stringify(etcd)}, ${JSON.stringify(members)}`,
      );
    await new Promise((r) => setTimeout(r, 500));
  }
}

describe('the HA database: Patroni, three PostgreSQL 15 nodes in strict synchronous mode, real faults', () => {
  const held = stopAfterEach();

  /** A new system with active and passive clients trading on it, 40 trades acknowledged; torn down after the test. */
  async function tradingSystem(): Promise<{ s: HaSystem; stream: TradeStream }> {
    const s = await startHaSystem();
    held.sys = s;
    const trades = new TradeStream(await sessionsOf(s), s.quotes);
    held.stream = trades;
    await trades.acknowledge(40);
    return { s, stream: trades };
  }

  it('SIGKILL of the primary postmaster mid-stream: each acknowledged trade stored once, trading resumes by itself', async () => {
    const { s, stream } = await tradingSystem();
    const primary = await s.member('leader');
    process.kill(primary.postgresPid as number, 'SIGKILL');
    const killedAt = Date.now();
    await stream.acknowledge(60);
    const now = await s.member('leader');
    await stream.stop();
    reportPause(`primary ${primary.name}'s postmaster SIGKILLed, primary now ${now.name}`, stream, killedAt);
    expect(stream.failed).toEqual([]);
    await expectEachAcknowledgedOnce(s, stream);
  });

  it('a "partitioned" primary (Patroni and PostgreSQL SIGSTOPped): a standby takes over, the old one rejoins as a standby with no write of its own', async () => {
    const { s, stream } = await tradingSystem();
    const old = await s.member('leader');
    const patroni = old.patroniPid as number;
    const postmaster = old.postgresPid as number;
    const frozen = [
      ...new Set([patroni, ...descendantsOf(patroni), postmaster, ...descendantsOf(postmaster)]),
    ];
    for (const pid of frozen) process.kill(pid, 'SIGSTOP');
    s.stopped.push(...frozen);
    const frozenAt = Date.now();
    const next = await s.member('leader', 120_000, old.name);
    await stream.acknowledge(40);
    reportPause(`primary ${old.name} SIGSTOPped, ${next.name} promoted`, stream, frozenAt);

    for (const pid of s.stopped.splice(0)) process.kill(pid, 'SIGCONT');
    await expectRejoinedWithPrimaryHistory(s, stream, old.name, next.name);
  });

  it('the synchronous standby (Patroni and PostgreSQL) and one etcd member SIGKILLed, twice in a row: each comes back by itself, trading goes on', async () => {
    const { s, stream } = await tradingSystem();
    // Twice, a different etcd member each time: had the first not come back, the second kill would take the
    // quorum, and with the first standby still gone the second would leave strict mode with no standby at all.
    for (const etcd of [0, 1]) {
      const sync = await s.member('sync_standby');
      process.kill(sync.patroniPid as number, 'SIGKILL');
      process.kill(sync.postgresPid as number, 'SIGKILL');
      process.kill(s.cluster.etcdPids()[etcd] as number, 'SIGKILL');
      const killedAt = Date.now();
      await stream.acknowledge(60);
      const next = await s.member('sync_standby', 120_000, sync.name);
      reportPause(
        `sync standby ${sync.name} and etcd${etcd + 1} SIGKILLed, ${next.name} is synchronous now`,
        stream,
        killedAt,
      );
      await allMembersBack(s);
      process.stdout.write(`[ha] ${sync.name} and etcd${etcd + 1} restarted and rejoined\n`);
    }
    await stream.acknowledge(20);
    await stream.stop();
    expect(stream.failed).toEqual([]);
    await expectEachAcknowledgedOnce(s, stream);
  });
});
