import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TradingSession } from '../src/client/trading-session.js';
import { createPool } from '../src/common/database.js';
import { verifyDatabase } from '../src/common/verify-database.js';
import { descendantsOf } from '../test/support/processes.js';
import { type HaSystem, startHaSystem, stopAfterEach } from './support/ha-system.js';
import { TradeStream } from './support/trade-stream.js';

/** Said, not asserted: the machine is shared, and a pause is a measurement (see `hedge bench --fault db-primary`). */
function reportPause(what: string, stream: TradeStream, sinceMs: number): void {
  process.stdout.write(
    `[ha] ${what}: longest client-visible pause ${stream.longestPauseMs(sinceMs)} ms; ` +
      `${stream.acknowledged.length} trades acknowledged, ${stream.failed.length} failed\n`,
  );
}

/**
 * Every trade the client saw acknowledged is in the database exactly once, one
 * it did not see acknowledged at most once, and `hedge verify`'s checks pass.
 */
async function expectEachAcknowledgedOnce(sys: HaSystem, stream: TradeStream): Promise<void> {
  const acknowledged = stream.acknowledged.map((o) => o.requestId);
  const unacknowledged = stream.failed.map((o) => o.requestId);
  const { rows } = await sys.pool.query<{ request_id: string; n: number }>(
    `SELECT request_id::text, count(*)::int AS n FROM trades
     WHERE request_id = ANY($1::uuid[]) GROUP BY request_id`,
    [[...acknowledged, ...unacknowledged]],
  );
  const stored = new Map(rows.map((r) => [r.request_id, r.n]));
  expect(acknowledged.length).toBeGreaterThan(0);
  expect(acknowledged.filter((id) => stored.get(id) !== 1)).toEqual([]);
  expect(unacknowledged.filter((id) => (stored.get(id) ?? 0) > 1)).toEqual([]);
  const report = await verifyDatabase(sys.pool);
  expect(report.violations).toEqual([]);
  expect(report.duplicate_effects).toBe(0);
}

/** Active and passive clients together: both ways of calling the replicas go through the fail-over. */
async function sessionsOf(sys: HaSystem): Promise<TradingSession[]> {
  return Promise.all([
    sys.session('active'),
    sys.session('active'),
    sys.session('active'),
    sys.session('passive'),
    sys.session('passive'),
  ]);
}

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

/** A fingerprint of the trades a node holds, to compare a rejoined node's history with the primary's. */
async function tradesOn(url: string): Promise<string> {
  const pool = createPool(url, { max: 1, applicationName: 'hedge-test-ha' });
  try {
    const { rows } = await pool.query<{ n: number; digest: string | null }>(
      "SELECT count(*)::int AS n, md5(string_agg(request_id::text, ',' ORDER BY id)) AS digest FROM trades",
    );
    return `${rows[0]?.n} ${rows[0]?.digest}`;
  } finally {
    await pool.end();
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
    const index = Number(old.name.slice(2)) - 1;
    const oldUrl = s.cluster.layout.nodeUrl(index);
    // Patroni demotes it (rewinding what it wrote after the standby last heard from it) and has it follow.
    const deadline = Date.now() + 120_000;
    for (;;) {
      const member = (await s.cluster.members()).find((m) => m.name === old.name);
      const standby = await createPool(oldUrl, { max: 1 })
        .query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')
        .then(
          (r) => r.rows[0]?.r === true,
          () => false,
        );
      if (
        standby &&
        (member?.role === 'replica' || member?.role === 'sync_standby') &&
        (member.state === 'running' || member.state === 'streaming')
      )
        break;
      if (Date.now() > deadline)
        throw new Error(`${old.name} did not rejoin as a standby: ${JSON.stringify(member)}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    await stream.acknowledge(20);
    await stream.stop();
    expect(stream.failed).toEqual([]);
    await expectEachAcknowledgedOnce(s, stream);
    // Its history is the primary's: nothing it committed while stale survived (a write of its own would
    // have diverged its timeline and stopped it from streaming).
    const primaryTrades = await tradesOn(s.cluster.layout.nodeUrl(Number(next.name.slice(2)) - 1));
    const catchUp = Date.now() + 60_000;
    while ((await tradesOn(oldUrl)) !== primaryTrades && Date.now() < catchUp) {
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(await tradesOn(oldUrl)).toBe(primaryTrades);
    const log = readFileSync(join(s.dataDir, 'logs', `patroni${index + 1}.log`), 'utf8');
    process.stdout.write(
      `[ha] ${old.name} rejoined as a standby${log.includes('running pg_rewind from') ? ' (pg_rewind ran)' : ''}\n`,
    );
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
