import { createHash, randomUUID } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import type { PoolClient } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DayTradingSession } from '../src/client/day-trading-session.js';
import { ReplicatedCallError, ReplicatedClient } from '../src/client/replicated-client.js';
import { TradingSession } from '../src/client/trading-session.js';
import { createPool, type Pool } from '../src/common/database.js';
import { hedgeProto } from '../src/common/proto.js';
import { verifyDatabase } from '../src/common/verify-database.js';
import type { RunningReplica } from '../src/replica/run-replica.js';
import type { FiringResult } from '../src/replica/trigger-firing.js';
import { useTestDatabase } from './support/database.js';
import { TEST_PRICES, useTestFeed } from './support/feed.js';
import { startInProcessReplica } from './support/replicas.js';
import { uniqueUsername } from './support/trader.js';

/**
 * The interleavings that deadlocked before every transaction took a user's
 * account row first (sql/day_trading.sql): each is set up step by step with real
 * connections holding real locks, so the bad order, if it came back, would be
 * hit every time rather than by luck.
 */
describe('the database under concurrency and at its limits', () => {
  const db = useTestDatabase();
  const feed = useTestFeed({ prices: { ...TEST_PRICES, PNY: 1n } });
  let replica: RunningReplica;
  let client: ReplicatedClient;
  const held: PoolClient[] = [];
  /** The connections that play the transactions, apart from the pool that watches them. */
  let sessions: Pool;

  beforeAll(async () => {
    sessions = createPool(db.url, { max: 8, applicationName: 'hedge-lock-test' });
    // PNY at one cent: the cheapest price, where a holding grows fastest.
    // No feed address: no trigger fires but those this test fires; the sweep is this test's too.
    replica = await startInProcessReplica(
      { databaseUrl: db.url, feedPublicKeyPath: feed.publicKeyPath, orderSweepIntervalMs: 3_600_000 },
      'lock-test',
    );
    client = await ReplicatedClient.connect({
      mode: 'active',
      replicas: [{ id: 'l1', address: replica.address }],
    });
  });

  afterAll(async () => {
    for (const c of held.splice(0)) c.release();
    await sessions?.end();
    client?.close();
    await replica?.stop();
  });

  interface User {
    session: DayTradingSession;
    id: string;
    tokenHash: Buffer;
  }

  async function user(): Promise<User> {
    const trading = new TradingSession(client);
    const name = uniqueUsername('lock');
    await trading.register(name, 'lock order password');
    const token = String(trading.metadata.get('authorization')[0]).slice('Bearer '.length);
    const { rows } = await db.pool.query('SELECT id::text FROM users WHERE username = $1', [name]);
    return {
      session: new DayTradingSession(trading),
      id: rows[0].id,
      tokenHash: createHash('sha256').update(token).digest(),
    };
  }

  async function connection(): Promise<{ c: PoolClient; pid: number }> {
    const c = await sessions.connect();
    held.push(c);
    const { rows } = await c.query('SELECT pg_backend_pid() AS pid');
    return { c, pid: rows[0].pid };
  }

  function release(c: PoolClient): void {
    held.splice(held.indexOf(c), 1);
    c.release();
  }

  /** Resolves once `pid` waits on a lock, or `done` settles first (it did not need to wait). */
  async function blockedOrDone(pid: number, done: Promise<unknown>): Promise<'blocked' | 'done'> {
    let settled = false;
    void done.then(
      () => {
        settled = true;
      },
      () => {
        settled = true;
      },
    );
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (settled) return 'done';
      const { rows } = await db.pool.query('SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1', [
        pid,
      ]);
      if (rows[0]?.wait_event_type === 'Lock') return 'blocked';
      if (Date.now() > deadline) throw new Error(`backend ${pid} neither finished nor waited on a lock`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** What a command's own transaction does first: take the user's account row. */
  async function holdAccount(u: User): Promise<PoolClient> {
    const { c } = await connection();
    await c.query('BEGIN');
    await c.query('SELECT 1 FROM accounts WHERE user_id = $1 FOR UPDATE', [u.id]);
    return c;
  }

  function execute(
    c: Pick<PoolClient, 'query'>,
    u: User,
    op: string,
    params: object,
    requestId: string = randomUUID(),
  ) {
    return c
      .query(
        'SELECT status, reason, message, body FROM execute_request($1, $2, $3, $4::jsonb, $5::jsonb, $6, $7)',
        [requestId, op, u.tokenHash, JSON.stringify(params), '{}', 'cache', 'lock-test'],
      )
      .then((r) => r.rows[0]);
  }

  /** Ticks of `symbol` at `cents`, issued now, as a replica hands the feed's ticks to fire_triggers. */
  function fireAll(c: PoolClient, ticks: [symbol: string, cents: number][]): Promise<FiringResult> {
    const issued = Date.now() + 1_000;
    return c
      .query(
        'SELECT fire_triggers($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bytea[], $6) AS result',
        [
          ticks.map(([s]) => s),
          ticks.map(([, p]) => p),
          ticks.map(() => issued),
          ticks.map((_, i) => i + 1),
          ticks.map(() => Buffer.from('signature')),
          'lock-test',
        ],
      )
      .then((r) => r.rows[0].result);
  }

  /** How many triggers the ticks fired, none failing. */
  async function fire(c: PoolClient, ticks: [symbol: string, cents: number][]): Promise<number> {
    const { fired, failures } = await fireAll(c, ticks);
    expect(failures).toEqual([]);
    return fired;
  }

  async function account(u: User) {
    const { rows } = await db.pool.query(
      'SELECT cash::text, reserved_cash::text FROM accounts WHERE user_id = $1',
      [u.id],
    );
    return rows[0];
  }

  async function noViolations() {
    const report = await verifyDatabase(db.pool);
    expect(report.violations).toEqual([]);
    expect(report.duplicate_effects).toBe(0);
  }

  it('a trigger firing while its user cancels it: the firing waits for the account, the cancel wins', async () => {
    const u = await user();
    await u.session.add('100.00');
    await u.session.setBuyAmount('ABC', '50.00');
    await u.session.setBuyTrigger('ABC', '20.00');

    const command = await holdAccount(u);
    const firer = await connection();
    const firing = fire(firer.c, [['ABC', 1_000]]);
    expect(await blockedOrDone(firer.pid, firing)).toBe('blocked');
    // The cancel takes the trigger row next: the firing must not be holding it.
    const cancelled = await execute(command, u, 'cancel_set_buy', { symbol: 'ABC' });
    await command.query('COMMIT');
    release(command);
    expect(cancelled.status).toBe(0);
    expect(await firing).toBe(0);
    release(firer.c);

    const { rows } = await db.pool.query('SELECT state FROM triggers WHERE user_id = $1', [u.id]);
    expect(rows.map((r) => r.state)).toEqual(['cancelled']);
    expect(await account(u)).toEqual({ cash: '10000', reserved_cash: '0' });
    await noViolations();
  });

  it('the sweep skips a user whose command holds the account; the command expires the order itself', async () => {
    const u = await user();
    await u.session.add('100.00');
    await u.session.buy('ABC', '50.00', await feed.quote('ABC'));
    await db.pool.query(
      "UPDATE pending_orders SET expires_at = now() - interval '1 second' WHERE user_id = $1 AND state = 'pending'",
      [u.id],
    );

    const command = await holdAccount(u);
    const sweeper = await connection();
    const sweep = sweeper.c.query('SELECT sweep_expired_orders($1, $2) AS n', ['lock-test', 500]);
    expect(await blockedOrDone(sweeper.pid, sweep)).toBe('done');
    expect((await sweep).rows[0].n).toBe(0);
    release(sweeper.c);
    const commit = await execute(command, u, 'commit_buy', {});
    await command.query('COMMIT');
    release(command);
    expect(commit.reason).toBe('NOTHING_PENDING');
    expect(await account(u)).toEqual({ cash: '10000', reserved_cash: '0' });

    // Untouched, the next sweep releases it.
    await u.session.buy('ABC', '20.00', await feed.quote('ABC'));
    await db.pool.query(
      "UPDATE pending_orders SET expires_at = now() - interval '1 second' WHERE user_id = $1 AND state = 'pending'",
      [u.id],
    );
    const { rows } = await db.pool.query('SELECT sweep_expired_orders($1, $2) AS n', ['lock-test', 500]);
    expect(rows[0].n).toBeGreaterThanOrEqual(1);
    expect(await account(u)).toEqual({ cash: '10000', reserved_cash: '0' });
    await noViolations();
  });

  it('two replicas firing ticks of two symbols for the same two users take the accounts in one order', async () => {
    // Made in this order, so that ABC's triggers are A's then B's and DEF's are B's then A's:
    // firing trigger by trigger in id order, one replica would hold A and want B, the other hold B and want A.
    const a = await user();
    const b = await user();
    for (const u of [a, b]) await u.session.add('100.00');
    await a.session.setBuyAmount('ABC', '10.00');
    await a.session.setBuyTrigger('ABC', '100.00');
    await b.session.setBuyAmount('ABC', '10.00');
    await b.session.setBuyTrigger('ABC', '100.00');
    await b.session.setBuyAmount('DEF', '30.00');
    await b.session.setBuyTrigger('DEF', '100.00');
    await a.session.setBuyAmount('DEF', '30.00');
    await a.session.setBuyTrigger('DEF', '100.00');

    const holdingA = await holdAccount(a);
    const holdingB = await holdAccount(b);
    const first = await connection();
    const second = await connection();
    const firstFiring = fire(first.c, [['ABC', 1_000]]);
    expect(await blockedOrDone(first.pid, firstFiring)).toBe('blocked');
    const secondFiring = fire(second.c, [['DEF', 2_550]]);
    expect(await blockedOrDone(second.pid, secondFiring)).toBe('blocked');
    // B's account free: a replica going trigger by trigger would now take B and queue for A behind the other.
    await holdingB.query('COMMIT');
    release(holdingB);
    await new Promise((r) => setTimeout(r, 100));
    await holdingA.query('COMMIT');
    release(holdingA);

    expect([await firstFiring, await secondFiring]).toEqual([2, 2]);
    release(first.c);
    release(second.c);
    const { rows } = await db.pool.query(
      "SELECT count(*)::int AS n FROM triggers WHERE state = 'fired' AND user_id = ANY($1::bigint[])",
      [[a.id, b.id]],
    );
    expect(rows[0].n).toBe(4);
    // 100 - 10 - 30 + 0 (10.00 buys 1 ABC) + 4.50 (30.00 buys 1 DEF at 25.50) = 64.50
    for (const u of [a, b]) expect(await account(u)).toEqual({ cash: '6450', reserved_cash: '0' });
    await noViolations();
  });

  it('a copy arriving after the session expired gets the answer of the copy that started before', async () => {
    const u = await user();
    await u.session.add('100.00');
    const requestId = randomUUID();
    const blocker = await holdAccount(u);
    const first = await connection();
    const firstCopy = execute(first.c, u, 'add', { amount_cents: '500' }, requestId);
    expect(await blockedOrDone(first.pid, firstCopy)).toBe('blocked');
    await db.pool.query('UPDATE sessions SET expires_at = now() WHERE token_hash = $1', [u.tokenHash]);
    const late = await connection();
    const lateCopy = execute(late.c, u, 'add', { amount_cents: '500' }, requestId);
    // It waits on the first copy's claim rather than answering SESSION_INVALID on its own.
    expect(await blockedOrDone(late.pid, lateCopy)).toBe('blocked');
    await blocker.query('COMMIT');
    release(blocker);
    const [a, b] = await Promise.all([firstCopy, lateCopy]);
    release(first.c);
    release(late.c);
    expect(a.status).toBe(0);
    expect(b).toEqual(a);
    expect(await account(u)).toEqual({ cash: '10500', reserved_cash: '0' });

    // A request begun after the expiry is refused, and its copies get that same refusal.
    const again = randomUUID();
    const refusals = await Promise.all([
      execute(db.pool, u, 'add', { amount_cents: '1' }, again),
      execute(db.pool, u, 'add', { amount_cents: '1' }, again),
    ]);
    expect(refusals.map((r) => [r.status, r.reason])).toEqual([
      [status.UNAUTHENTICATED, 'SESSION_INVALID'],
      [status.UNAUTHENTICATED, 'SESSION_INVALID'],
    ]);
    expect(await account(u)).toEqual({ cash: '10500', reserved_cash: '0' });
    await noViolations();
  });

  it('the balance cap covers reserved cash: releases never break it, and sales that would are refused', async () => {
    const u = await user();
    const s = u.session;
    await s.add('1000.00');
    await s.buy('ABC', '100.00', await feed.quote('ABC'));
    await s.commitBuy(); // 10 ABC
    await s.sell('ABC', '50.00', await feed.quote('ABC')); // 5 reserved, pending
    await s.setSellAmount('ABC', '30.00');
    await s.setSellTrigger('ABC', '10.00'); // 3 reserved
    await s.buy('ABC', '100.00', await feed.quote('ABC')); // 100.00 reserved, pending
    expect(await account(u)).toEqual({ cash: '80000', reserved_cash: '10000' });
    // Up to the cap of 10^15 dollars, counting the 100.00 reserved.
    for (let i = 0; i < 99; i++) await s.add('10000000000000.00');
    await s.add('9999999999100.00');
    expect(await account(u)).toEqual({ cash: '99999999999990000', reserved_cash: '10000' });

    const refusedWith = async (run: () => Promise<unknown>) => {
      const err = await run().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ReplicatedCallError);
      return (err as ReplicatedCallError).reason;
    };
    expect(await refusedWith(() => s.add('0.01'))).toBe('BALANCE_LIMIT');
    expect(await refusedWith(() => s.commitSell())).toBe('BALANCE_LIMIT');
    expect(await account(u)).toEqual({ cash: '99999999999990000', reserved_cash: '10000' });

    // The sell trigger's tick: selling would pass the cap, so it is cancelled and its shares returned.
    const firer = await connection();
    expect(await fire(firer.c, [['ABC', 1_000]])).toBe(1);
    release(firer.c);
    const { rows: triggers } = await db.pool.query('SELECT state FROM triggers WHERE user_id = $1', [u.id]);
    expect(triggers.map((t) => t.state)).toEqual(['cancelled']);
    const { rows: errors } = await db.pool.query(
      "SELECT error_message FROM audit_events WHERE user_id = $1 AND event_type = 'errorEvent' AND command = 'SET_SELL_TRIGGER'",
      [u.id],
    );
    expect(errors[0]?.error_message).toContain('over the limit');

    // Releasing the reserved 100.00 brings cash to the cap exactly, and the sweep is not stuck on it.
    await s.cancelBuy();
    await s.cancelSell();
    expect(await account(u)).toEqual({ cash: '100000000000000000', reserved_cash: '0' });
    const summary = (await s.displaySummary()).response;
    expect(summary.holdings).toEqual([{ symbol: 'ABC', shares: '10', reserved_shares: '0' }]);
    await noViolations();
  });

  it('a holding is capped too: buys that would pass it are refused, a buy trigger that would is cancelled', async () => {
    const u = await user();
    const s = u.session;
    // 10^17 cents at one cent a share: the whole balance cap buys the whole holding cap.
    for (let i = 0; i < 100; i++) {
      await s.add('10000000000000.00');
      await s.buy('PNY', '10000000000000.00', await feed.quote('PNY'));
      await s.commitBuy();
    }
    await s.add('1.00');
    await s.buy('PNY', '0.01', await feed.quote('PNY'));
    const refusal = await s.commitBuy().then(
      () => undefined,
      (e: unknown) => e as ReplicatedCallError,
    );
    expect(refusal?.reason).toBe('HOLDING_LIMIT');
    await s.cancelBuy();
    const direct = await s.session.buy('PNY', 1, await feed.quote('PNY')).then(
      () => undefined,
      (e: unknown) => e as ReplicatedCallError,
    );
    expect(direct?.reason).toBe('HOLDING_LIMIT');

    await s.setBuyAmount('PNY', '0.50');
    await s.setBuyTrigger('PNY', '0.01');
    const firer = await connection();
    expect(await fire(firer.c, [['PNY', 1]])).toBe(1);
    release(firer.c);
    const { rows } = await db.pool.query('SELECT state FROM triggers WHERE user_id = $1', [u.id]);
    expect(rows.map((t) => t.state)).toEqual(['cancelled']);
    expect(await account(u)).toEqual({ cash: '100', reserved_cash: '0' });
    expect((await s.displaySummary()).response.holdings).toEqual([
      { symbol: 'PNY', shares: '100000000000000000', reserved_shares: '0' },
    ]);
    await noViolations();
  });

  it('a trigger that cannot fire fails alone: the others of its tick fire, and it stays armed', async () => {
    const broken = await user();
    const sound = await user();
    for (const u of [broken, sound]) {
      await u.session.add('100.00');
      await u.session.buy('ABC', '50.00', await feed.quote('ABC'));
      await u.session.commitBuy();
      await u.session.setSellAmount('ABC', '20.00');
      await u.session.setSellTrigger('ABC', '10.00');
    }
    // A state no command makes (the trigger reserves more shares than the holding has
    // reserved), standing for any fault that makes one trigger's firing raise.
    await db.pool.query('UPDATE triggers SET reserved_shares = reserved_shares + 1000 WHERE user_id = $1', [
      broken.id,
    ]);
    const firer = await connection();
    const { fired, failures } = await fireAll(firer.c, [['ABC', 1_000]]);
    expect(fired).toBe(1);
    expect(failures).toHaveLength(1);
    expect(failures[0]?.sqlstate).toBe('23514');
    const states = async () =>
      (
        await db.pool.query('SELECT user_id::text, state FROM triggers WHERE user_id = ANY($1::bigint[])', [
          [broken.id, sound.id],
        ])
      ).rows;
    expect(await states()).toEqual(
      expect.arrayContaining([
        { user_id: broken.id, state: 'armed' },
        { user_id: sound.id, state: 'fired' },
      ]),
    );

    // Repaired, it fires at the next tick.
    await db.pool.query('UPDATE triggers SET reserved_shares = reserved_shares - 1000 WHERE user_id = $1', [
      broken.id,
    ]);
    expect(await fire(firer.c, [['ABC', 1_000]])).toBe(1);
    release(firer.c);
    expect((await states()).map((t) => t.state)).toEqual(['fired', 'fired']);
    expect(await account(broken)).toEqual(await account(sound));
    await noViolations();
  });

  it('two sign-ins racing for one session token: the second is refused, and a new user is not left behind', async () => {
    const u = await user();
    const token = 'B'.repeat(43);
    const tokenHash = createHash('sha256').update(token).digest();
    const holder = await connection();
    await holder.c.query('BEGIN');
    await holder.c.query(
      "INSERT INTO sessions (token_hash, user_id, expires_at) VALUES ($1, $2, now() + interval '1 hour')",
      [tokenHash, u.id],
    );
    const users = (await db.pool.query('SELECT count(*)::int AS n FROM users')).rows[0].n;
    const trading = hedgeProto().Trading.service;
    const register = client.call(trading.Register, {
      request_id: randomUUID(),
      username: uniqueUsername('race'),
      password: 'lock order password',
      session_token: token,
    });
    const login = client.call(trading.Login, {
      request_id: randomUUID(),
      username: (await db.pool.query('SELECT username FROM users WHERE id = $1', [u.id])).rows[0].username,
      password: 'lock order password',
      session_token: token,
    });
    // Both outcomes are taken at once, as either may be refused first.
    const outcomes = [register, login].map((call) =>
      call.then(
        () => undefined,
        (e: unknown) => e as ReplicatedCallError,
      ),
    );
    // Both wait on the uncommitted session with that token, then find it taken.
    const deadline = Date.now() + 10_000;
    for (;;) {
      const { rows } = await db.pool.query(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name LIKE 'hedge-replica-%' AND wait_event_type = 'Lock'",
      );
      if (rows[0].n === 2) break;
      if (Date.now() > deadline) throw new Error('the sign-ins never waited on the session');
      await new Promise((r) => setTimeout(r, 10));
    }
    await holder.c.query('COMMIT');
    release(holder.c);
    for (const err of await Promise.all(outcomes)) {
      expect({ code: err?.code, reason: err?.reason }).toEqual({
        code: status.ALREADY_EXISTS,
        reason: 'SESSION_TOKEN_TAKEN',
      });
    }
    expect((await db.pool.query('SELECT count(*)::int AS n FROM users')).rows[0].n).toBe(users);
  });

  it('a database connection lost mid-request: the replica answers UNAVAILABLE and the retry completes it once', async () => {
    const u = await user();
    await u.session.add('10.00');
    const command = await holdAccount(u);
    const adding = u.session.add('1.00');
    let victim: number | undefined;
    const deadline = Date.now() + 10_000;
    while (victim === undefined) {
      const { rows } = await db.pool.query(
        "SELECT pid FROM pg_stat_activity WHERE application_name = 'hedge-replica-lock-test' AND wait_event_type = 'Lock'",
      );
      victim = rows[0]?.pid;
      if (Date.now() > deadline) throw new Error('the ADD never waited on the account');
      await new Promise((r) => setTimeout(r, 10));
    }
    await db.pool.query('SELECT pg_terminate_backend($1)', [victim]);
    await command.query('COMMIT');
    release(command);
    const result = await adding;
    expect(result.telemetry.failures.map((f) => f.code)).toEqual([status.UNAVAILABLE]);
    expect(await account(u)).toEqual({ cash: '1100', reserved_cash: '0' });
    await noViolations();
  });
});
