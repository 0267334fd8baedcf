import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { TradingSession } from '../../src/client/trading-session.js';
import { createPool } from '../../src/common/database.js';
import { verifyDatabase } from '../../src/common/verify-database.js';
import type { HaSystem } from './ha-system.js';
import type { TradeStream } from './trade-stream.js';

/** Said, not asserted: the machine is shared, and a pause is a measurement (see `hedge bench --fault db-primary`). */
export function reportPause(what: string, stream: TradeStream, sinceMs: number): void {
  process.stdout.write(
    `[ha] ${what}: longest client-visible pause ${stream.longestPauseMs(sinceMs)} ms; ` +
      `${stream.acknowledged.length} trades acknowledged, ${stream.failed.length} failed\n`,
  );
}

/**
 * Every trade the client saw acknowledged is in the database exactly once, one
 * it did not see acknowledged at most once, and `hedge verify`'s checks pass.
 */
export async function expectEachAcknowledgedOnce(sys: HaSystem, stream: TradeStream): Promise<void> {
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
export async function sessionsOf(sys: HaSystem): Promise<TradingSession[]> {
  return Promise.all([
    sys.session('active'),
    sys.session('active'),
    sys.session('active'),
    sys.session('passive'),
    sys.session('passive'),
  ]);
}

/** A fingerprint of the trades a node holds, to compare a rejoined node's history with the primary's. */
export async function tradesOn(url: string): Promise<string> {
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

/** Member `name` (pgN) of the cluster, by its index in the layout. */
export function memberIndex(name: string): number {
  return Number(name.slice(2)) - 1;
}

/**
 * Waits until the former primary `name` is a standby: in recovery, listed by
 * Patroni as a following replica, and streaming from the primary (its
 * walsender there; Patroni names a standby's connection after the member).
 * Patroni may restart it more than once on the way (pg_rewind, then follow).
 */
export async function waitUntilStandby(sys: HaSystem, name: string): Promise<void> {
  const oldUrl = sys.cluster.layout.nodeUrl(memberIndex(name));
  const deadline = Date.now() + 120_000;
  for (;;) {
    const member = (await sys.cluster.members()).find((m) => m.name === name);
    const pool = createPool(oldUrl, { max: 1, connectionTimeoutMs: 2_000, queryTimeoutMs: 2_000 });
    const standby = await pool.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r').then(
      (r) => r.rows[0]?.r === true,
      () => false,
    );
    await pool.end().catch(() => {});
    const streaming = await sys.pool
      .query<{ state: string }>('SELECT state FROM pg_stat_replication WHERE application_name = $1', [name])
      .then(
        (r) => r.rows[0]?.state === 'streaming',
        () => false,
      );
    if (
      standby &&
      streaming &&
      (member?.role === 'replica' || member?.role === 'sync_standby') &&
      (member.state === 'running' || member.state === 'streaming')
    )
      break;
    if (Date.now() > deadline)
      throw new Error(`${name} did not rejoin as a standby: ${JSON.stringify(member)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/**
 * With trading stopped: the rejoined standby `name` holds the primary
 * `primaryName`'s trades, once it caught up; nothing it committed while stale
 * survived (a write of its own would have diverged its timeline and stopped it
 * from streaming). Says whether Patroni ran pg_rewind on it.
 */
export async function expectPrimaryHistory(sys: HaSystem, name: string, primaryName: string): Promise<void> {
  const oldUrl = sys.cluster.layout.nodeUrl(memberIndex(name));
  const primaryTrades = await tradesOn(sys.cluster.layout.nodeUrl(memberIndex(primaryName)));
  const catchUp = Date.now() + 60_000;
  while ((await tradesOn(oldUrl).catch(String)) !== primaryTrades && Date.now() < catchUp) {
    await new Promise((r) => setTimeout(r, 250));
  }
  expect(await tradesOn(oldUrl)).toBe(primaryTrades);
  const log = readFileSync(join(sys.dataDir, 'logs', `patroni${memberIndex(name) + 1}.log`), 'utf8');
  process.stdout.write(
    `[ha] ${name} rejoined as a standby${log.includes('running pg_rewind from') ? ' (pg_rewind ran)' : ''}\n`,
  );
}

/**
 * The former primary `name` rejoins as a standby while trading goes on; then,
 * trading stopped, no trade failed, each acknowledged one is stored once, and
 * `name` holds the history of `primaryName`, the primary that replaced it.
 */
export async function expectRejoinedWithPrimaryHistory(
  sys: HaSystem,
  stream: TradeStream,
  name: string,
  primaryName: string,
): Promise<void> {
  await waitUntilStandby(sys, name);
  await stream.acknowledge(20);
  await stream.stop();
  expect(stream.failed).toEqual([]);
  await expectEachAcknowledgedOnce(sys, stream);
  await expectPrimaryHistory(sys, name, primaryName);
}
