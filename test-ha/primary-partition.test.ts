import { describe, expect, it } from 'vitest';
import { createPool } from '../src/common/database.js';
import { MEMBERS } from '../src/ha/ha-layout.js';
import {
  expectRejoinedWithPrimaryHistory,
  memberIndex,
  reportPause,
  sessionsOf,
} from './support/ha-checks.js';
import { type HaSystem, startHaSystem, stopAfterEach } from './support/ha-system.js';
import { TradeStream } from './support/trade-stream.js';

/**
 * When each replica's request pool (application_name hedge-replica-<id>) first
 * had a connection on `primaryName` that is still open, from the replicas the
 * manager lists: where the replicas moved to after the fail-over, and when.
 */
async function replicaConnectionsOn(sys: HaSystem, primaryName: string): Promise<Map<string, number>> {
  const { replicas } = await sys.status();
  const { rows } = await sys.pool.query<{ application_name: string; since_ms: string }>(
    `SELECT application_name, (extract(epoch FROM min(backend_start)) * 1000)::bigint::text AS since_ms
     FROM pg_stat_activity WHERE application_name = ANY($1::text[]) GROUP BY application_name`,
    [replicas.map((r) => `hedge-replica-${r.id}`)],
  );
  // The query ran on the primary the pool follows: the one the test names.
  const primary = await sys.member('leader');
  expect(primary.name).toBe(primaryName);
  return new Map(rows.map((r) => [r.application_name, Number(r.since_ms)]));
}

/**
 * When the first of the nodes at `urls` is seen out of recovery (promoted),
 * each polled on a connection of its own from the moment this is called: not
 * through Patroni's REST API, which waits on a silent member's answer.
 */
async function firstPromoted(urls: string[], timeoutMs = 120_000): Promise<number> {
  const pools = urls.map((url) =>
    createPool(url, { max: 1, connectionTimeoutMs: 2_000, queryTimeoutMs: 2_000 }),
  );
  let found: number | undefined;
  const deadline = Date.now() + timeoutMs;
  try {
    await Promise.all(
      pools.map(async (pool) => {
        while (found === undefined && Date.now() < deadline) {
          const promoted = await pool.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r').then(
            (r) => r.rows[0]?.r === false,
            () => false,
          );
          if (promoted) found ??= Date.now();
          else await new Promise((r) => setTimeout(r, 100));
        }
      }),
    );
  } finally {
    await Promise.all(pools.map((p) => p.end()));
  }
  if (found === undefined)
    throw new Error(`none of ${urls.length} standbys was promoted within ${timeoutMs} ms`);
  return found;
}

describe('the HA database with each member on a host of its own (network namespaces)', () => {
  const held = stopAfterEach();

  it("the primary's host partitioned (link down: silence): a standby takes over, replicas move to it, no acknowledged trade is lost, the old primary rejoins as a standby after the heal", async () => {
    const s = await startHaSystem({ hosts: true, managers: 2 });
    held.sys = s;
    const network = s.network as NonNullable<HaSystem['network']>;
    const stream = new TradeStream(await sessionsOf(s), s.quotes);
    held.stream = stream;
    await stream.acknowledge(40);

    const viewBefore = BigInt((await s.status()).view);
    const managerExits: number[] = [];
    for (const m of s.managers) m.child.once('exit', () => managerExits.push(Date.now()));
    const old = await s.member('leader');
    const host = network.hosts[memberIndex(old.name)] as (typeof network.hosts)[number];
    const standbys = Array.from({ length: MEMBERS }, (_, i) => i)
      .filter((i) => i !== memberIndex(old.name))
      .map((i) => s.cluster.layout.nodeUrl(i));
    network.partition(host);
    const cutAt = Date.now();
    const promotion = firstPromoted(standbys);
    promotion.catch(() => {}); // awaited below; a failure before then is the test's, not an unhandled one
    const next = await s.member('leader', 120_000, old.name);
    const electedMs = Date.now() - cutAt;
    const promotedMs = (await promotion) - cutAt;
    await stream.acknowledge(40);
    reportPause(
      `primary ${old.name}'s host ${host.address} partitioned, ${next.name} promoted`,
      stream,
      cutAt,
    );
    const moved = await replicaConnectionsOn(s, next.name);
    const { replicas } = await s.status();
    // Every replica the manager lists reaches the new primary; none is left hanging on the silent one.
    expect([...moved.keys()].sort()).toEqual(replicas.map((r) => `hedge-replica-${r.id}`).sort());
    // Sent to the silent primary or while there was none (a commit's outcome unknown when its connection was
    // cut): each settled by its request id on the new primary, checked below.
    const inFlight = stream.inFlightAt(cutAt + electedMs);
    process.stdout.write(
      `[ha] ${next.name} listed as leader ${electedMs} ms after the cut, out of recovery at +${promotedMs} ms; ` +
        `replicas' request pools on it from ` +
        `${[...moved.values()].map((t) => `+${t - cutAt} ms`).join(', ')}; ${inFlight.length} trades in ` +
        `flight when it was seen, sent at ${inFlight.map((o) => `+${o.startMs - cutAt}`).join(', ')} ms and ` +
        `answered at ${inFlight.map((o) => `+${o.endMs - cutAt}`).join(', ')} ms\n`,
    );

    network.heal(host);
    const healedAt = Date.now();
    await expectRejoinedWithPrimaryHistory(s, stream, old.name, next.name);
    // The managers' lease is in the same etcd, whose member on that host was cut off too: a manager may have
    // lost it (its exit is its standby's turn), but one is active after the heal, on the views that went before.
    // The healed member rejoins etcd without an election (--pre-vote): no manager loses its lease to the heal.
    process.stdout.write(
      `[ha] managers that lost the lease: ${managerExits.length} of ${s.managers.length}` +
        `${managerExits.map((t) => ` (+${t - cutAt} ms after the cut)`).join('')}\n`,
    );
    expect(managerExits.filter((t) => t >= healedAt)).toEqual([]);
    expect(BigInt((await s.status()).view)).toBeGreaterThanOrEqual(viewBefore);
  });
});
