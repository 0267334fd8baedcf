import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DayTradingSession } from '../src/client/day-trading-session.js';
import { ReplicatedCallError, ReplicatedClient } from '../src/client/replicated-client.js';
import { TradingSession } from '../src/client/trading-session.js';
import { ADMIN_USERNAME, adminPasswordPath, ensureAdministrator } from '../src/common/admin.js';
import { readSecret } from '../src/common/secret-file.js';
import { verifyDatabase } from '../src/common/verify-database.js';
import type { SignedQuote__Output } from '../src/gen/hedge/v1/SignedQuote.js';
import { AuditReads } from '../src/replica/audit-reads.js';
import type { RunningReplica } from '../src/replica/run-replica.js';
import { parseAuditLog, validateAuditLog } from './support/audit-log.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { expiredQuote, startTestFeed, type TestFeed, type TestFeedOptions } from './support/feed.js';
import { startInProcessReplica } from './support/replicas.js';
import { uniqueUsername } from './support/trader.js';
import { waitFor } from './support/wait.js';

const ORDER_TTL_MS = 1_500;

/**
 * For the enclosing describe block: a database, a feed of `feedOptions`, one
 * in-process replica `id` that follows the feed, and an active client of it.
 */
function useOneReplica(id: string, feedOptions: TestFeedOptions) {
  const s = {} as { db: TestDatabase; feed: TestFeed; replica: RunningReplica; client: ReplicatedClient };
  beforeAll(async () => {
    s.db = await createTestDatabase();
    s.feed = await startTestFeed(feedOptions);
    s.replica = await startInProcessReplica(
      { databaseUrl: s.db.url, feedPublicKeyPath: s.feed.publicKeyPath, feedAddress: s.feed.address },
      id,
    );
    s.client = await ReplicatedClient.connect({
      mode: 'active',
      replicas: [{ id, address: s.replica.address }],
    });
  });
  afterAll(async () => {
    s.client?.close();
    await s.replica?.stop();
    await s.feed?.stop();
    await s.db?.drop();
  });
  return s;
}

describe('the SEng 468 commands', () => {
  let db: TestDatabase;
  let feed: TestFeed;
  let replicas: RunningReplica[];
  let client: ReplicatedClient;
  let txn = 0;
  const next = () => ++txn;

  beforeAll(async () => {
    db = await createTestDatabase();
    // Fixed prices (ABC 10.00, DEF 25.50), ticking every 100 ms so that triggers have ticks to fire on.
    feed = await startTestFeed({ tickMs: 100 });
    const setup = {
      databaseUrl: db.url,
      feedPublicKeyPath: feed.publicKeyPath,
      feedAddress: feed.address,
      orderTtlMs: ORDER_TTL_MS,
      orderSweepIntervalMs: 200,
    };
    replicas = await Promise.all(['d1', 'd2', 'd3'].map((id) => startInProcessReplica(setup, id)));
    client = await ReplicatedClient.connect({
      mode: 'active',
      replicas: replicas.map((r, i) => ({ id: `d${i + 1}`, address: r.address })),
    });
    await ensureAdministrator(db.pool, feed.dataDir);
  });

  afterAll(async () => {
    client?.close();
    await Promise.all((replicas ?? []).map((r) => r.stop()));
    await feed?.stop();
    await db?.drop();
  });

  async function user(name = uniqueUsername('dt')): Promise<DayTradingSession> {
    const session = new TradingSession(client);
    await session.register(name, 'day trader password');
    return new DayTradingSession(session);
  }

  /** Everything a refused command must leave as it was. */
  async function state() {
    const q = async (sql: string) => (await db.pool.query(sql)).rows;
    return {
      accounts: await q('SELECT * FROM accounts ORDER BY user_id'),
      holdings: await q('SELECT * FROM holdings ORDER BY user_id, symbol'),
      orders: await q("SELECT id, state FROM pending_orders WHERE state = 'pending' ORDER BY id"),
      triggers: await q(
        "SELECT id, state, amount_cents, reserved_shares FROM triggers WHERE state IN ('set', 'armed') ORDER BY id",
      ),
      ledger: await q('SELECT count(*)::int AS n FROM ledger'),
      trades: await q('SELECT count(*)::int AS n FROM trades'),
    };
  }

  async function events(transactionNum: number) {
    const { rows } = await db.pool.query(
      'SELECT event_type, command, error_message, funds_cents, action FROM audit_events WHERE transaction_num = $1 ORDER BY id',
      [transactionNum],
    );
    return rows;
  }

  /** The command is refused with `code` and `reason`, changes nothing, and logs its userCommand and an errorEvent. */
  async function refused(
    command: string,
    run: (n: number) => Promise<unknown>,
    code: status,
    reason: string,
  ): Promise<void> {
    const n = next();
    const before = await state();
    const err = await run(n).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err, `${command} should be refused`).toBeInstanceOf(ReplicatedCallError);
    expect({ code: (err as ReplicatedCallError).code, reason: (err as ReplicatedCallError).reason }).toEqual({
      code,
      reason,
    });
    expect(await state()).toEqual(before);
    const logged = await events(n);
    expect(logged.map((e) => [e.event_type, e.command]).filter(([t]) => t !== 'quoteServer')).toEqual([
      ['userCommand', command],
      ['errorEvent', command],
    ]);
    expect(logged.find((e) => e.event_type === 'errorEvent')?.error_message.length).toBeGreaterThan(10);
  }

  const quote = (symbol: string): Promise<SignedQuote__Output> => feed.quote(symbol);

  it('an unknown user (no ADD yet) can only ADD and QUOTE', async () => {
    const u = await user();
    const q = await quote('ABC');
    const cases: [string, (n: number) => Promise<unknown>][] = [
      ['BUY', (n) => u.buy('ABC', '100.00', q, n)],
      ['SELL', (n) => u.sell('ABC', '100.00', q, n)],
      ['COMMIT_BUY', (n) => u.commitBuy(n)],
      ['CANCEL_BUY', (n) => u.cancelBuy(n)],
      ['COMMIT_SELL', (n) => u.commitSell(n)],
      ['CANCEL_SELL', (n) => u.cancelSell(n)],
      ['SET_BUY_AMOUNT', (n) => u.setBuyAmount('ABC', '50.00', n)],
      ['SET_BUY_TRIGGER', (n) => u.setBuyTrigger('ABC', '5.00', n)],
      ['CANCEL_SET_BUY', (n) => u.cancelSetBuy('ABC', n)],
      ['SET_SELL_AMOUNT', (n) => u.setSellAmount('ABC', '50.00', n)],
      ['SET_SELL_TRIGGER', (n) => u.setSellTrigger('ABC', '50.00', n)],
      ['CANCEL_SET_SELL', (n) => u.cancelSetSell('ABC', n)],
      ['DISPLAY_SUMMARY', (n) => u.displaySummary(n)],
    ];
    for (const [command, run] of cases) await refused(command, run, status.NOT_FOUND, 'UNKNOWN_USER');
    expect((await u.quote('ABC', q, next())).response.message).toContain('10.00');
    expect((await u.add('100.00', next())).response.account?.cash).toBe('100.00');
  });

  it('ADD refuses an amount that is not positive decimal dollars, and logs the amount it was given', async () => {
    const u = await user();
    await u.add('10.00', next());
    for (const amount of ['0', '0.00', '-5', '-73280.58', 'abc', '', '1.001']) {
      await refused('ADD', (n) => u.add(amount, n), status.INVALID_ARGUMENT, 'INVALID_AMOUNT');
    }
    const n = next();
    await expect(u.add('-73280.58', n)).rejects.toMatchObject({ reason: 'INVALID_AMOUNT' });
    expect((await events(n))[0]).toMatchObject({ command: 'ADD', funds_cents: '-7328058' });
  });

  it('BUY and SELL refuse what SPEC.md says they must', async () => {
    const u = await user();
    await u.add('100.00', next());
    const abc = await quote('ABC');
    await refused('BUY', (n) => u.buy('ABC', '9.99', abc, n), status.FAILED_PRECONDITION, 'AMOUNT_TOO_SMALL');
    await refused(
      'BUY',
      (n) => u.buy('ABC', '110.00', abc, n),
      status.FAILED_PRECONDITION,
      'INSUFFICIENT_FUNDS',
    );
    await refused('BUY', (n) => u.buy('ABC', '10.00', null, n), status.INVALID_ARGUMENT, 'QUOTE_MISSING');
    await refused(
      'BUY',
      async (n) => u.buy('ABC', '10.00', await quote('DEF'), n),
      status.INVALID_ARGUMENT,
      'QUOTE_SYMBOL_MISMATCH',
    );
    await refused('BUY', (n) => u.buy('ABC', 'ten', abc, n), status.INVALID_ARGUMENT, 'INVALID_AMOUNT');
    const expired = expiredQuote(feed, 'ABC', 1_000n);
    await refused(
      'BUY',
      (n) => u.buy('ABC', '10.00', expired, n),
      status.FAILED_PRECONDITION,
      'QUOTE_EXPIRED',
    );
    await refused(
      'SELL',
      (n) => u.sell('ABC', '10.00', abc, n),
      status.FAILED_PRECONDITION,
      'INSUFFICIENT_SHARES',
    );
    await refused(
      'SELL',
      (n) => u.sell('ABC', '1.00', abc, n),
      status.FAILED_PRECONDITION,
      'AMOUNT_TOO_SMALL',
    );
    for (const [command, run] of [
      ['COMMIT_BUY', (n: number) => u.commitBuy(n)],
      ['CANCEL_BUY', (n: number) => u.cancelBuy(n)],
      ['COMMIT_SELL', (n: number) => u.commitSell(n)],
      ['CANCEL_SELL', (n: number) => u.cancelSell(n)],
    ] as const) {
      await refused(command, run, status.FAILED_PRECONDITION, 'NOTHING_PENDING');
    }
  });

  it('BUY reserves, COMMIT and CANCEL take the newest pending order, and SELL does the same with shares', async () => {
    const u = await user();
    await u.add('1000.00', next());
    const abc = await quote('ABC');
    const buy1 = await u.buy('ABC', '25.00', abc, next());
    expect(buy1.response.order).toMatchObject({ side: 'buy', shares: '2', price: '10.00', amount: '20.00' });
    expect(buy1.response.account).toEqual({ cash: '980.00', reserved_cash: '20.00' });
    await u.buy('ABC', '50.00', abc, next());
    const cancel = await u.cancelBuy(next());
    expect(cancel.response.order?.shares).toBe('5');
    expect(cancel.response.account).toEqual({ cash: '980.00', reserved_cash: '20.00' });
    const commit = await u.commitBuy(next());
    expect(commit.response.trade).toMatchObject({ side: 'SIDE_BUY', shares: '2', total: '20.00' });
    expect(commit.response.account).toEqual({ cash: '980.00', reserved_cash: '0.00' });

    await u.sell('ABC', '15.00', abc, next());
    const summary = (await u.displaySummary(next())).response;
    expect(summary.holdings).toEqual([{ symbol: 'ABC', shares: '1', reserved_shares: '1' }]);
    expect(summary.pending_orders).toEqual([
      expect.objectContaining({ side: 'sell', shares: '1', price: '10.00' }),
    ]);
    const sold = await u.commitSell(next());
    expect(sold.response.account).toEqual({ cash: '990.00', reserved_cash: '0.00' });
    expect((await u.displaySummary(next())).response.recent.length).toBeGreaterThan(4);
    expect((await verifyDatabase(db.pool)).violations).toEqual([]);
  });

  it('a COMMIT after the pending window finds nothing; the reserve is back, logged under the BUY', async () => {
    const u = await user();
    await u.add('100.00', next());
    const buyNum = next();
    await u.buy('ABC', '50.00', await quote('ABC'), buyNum);
    await new Promise((r) => setTimeout(r, ORDER_TTL_MS + 100));
    // The expiry releases the reserve (when the COMMIT touches the user, or the sweep did already);
    // the COMMIT itself finds nothing and is refused.
    const commitNum = next();
    const err = await u.commitBuy(commitNum).catch((e: ReplicatedCallError) => e);
    expect(err).toMatchObject({ code: status.FAILED_PRECONDITION, reason: 'NOTHING_PENDING' });
    expect((await events(commitNum)).map((e) => e.event_type)).toEqual(['userCommand', 'errorEvent']);
    const summary = (await u.displaySummary(next())).response;
    expect(summary.account).toEqual({ cash: '100.00', reserved_cash: '0.00' });
    expect(
      (await events(buyNum))
        .filter((e) => e.event_type === 'accountTransaction')
        .map((e) => [e.action, e.funds_cents]),
    ).toEqual([
      ['remove', '5000'],
      ['add', '5000'],
    ]);
    expect((await verifyDatabase(db.pool)).violations).toEqual([]);
  });

  it('the sweep releases an expired order nobody touches', async () => {
    const u = await user();
    await u.add('100.00', next());
    const { response } = await u.buy('ABC', '30.00', await quote('ABC'), next());
    const username = u.session.username;
    const deadline = Date.now() + 10_000;
    for (;;) {
      const { rows } = await db.pool.query(
        `SELECT o.state, a.reserved_cash FROM pending_orders o JOIN accounts a ON a.user_id = o.user_id
         JOIN users u ON u.id = o.user_id WHERE u.username = $1`,
        [username],
      );
      if (rows[0]?.state === 'expired') {
        expect(rows[0].reserved_cash).toBe('0');
        break;
      }
      if (Date.now() > deadline)
        throw new Error(`never swept: ${JSON.stringify(rows)} ${JSON.stringify(response)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  it('trigger commands refuse what SPEC.md says they must, and SET_BUY_AMOUNT moves the reserve', async () => {
    const u = await user();
    await u.add('100.00', next());
    const { FAILED_PRECONDITION: PRECONDITION, INVALID_ARGUMENT: INVALID } = status;
    const cases: [string, (n: number) => Promise<unknown>, status, string][] = [
      ['SET_BUY_AMOUNT', (n) => u.setBuyAmount('ABC', '100.01', n), PRECONDITION, 'INSUFFICIENT_FUNDS'],
      ['SET_BUY_TRIGGER', (n) => u.setBuyTrigger('ABC', '5.00', n), PRECONDITION, 'NO_TRIGGER_AMOUNT'],
      ['CANCEL_SET_BUY', (n) => u.cancelSetBuy('ABC', n), PRECONDITION, 'NO_TRIGGER'],
      ['SET_SELL_TRIGGER', (n) => u.setSellTrigger('ABC', '50.00', n), PRECONDITION, 'NO_TRIGGER_AMOUNT'],
      ['CANCEL_SET_SELL', (n) => u.cancelSetSell('ABC', n), PRECONDITION, 'NO_TRIGGER'],
      ['SET_BUY_TRIGGER', (n) => u.setBuyTrigger('ABC', 'cheap', n), INVALID, 'INVALID_AMOUNT'],
      ['CANCEL_SET_BUY', (n) => u.cancelSetBuy('abc', n), INVALID, 'INVALID_SYMBOL'],
    ];
    for (const [command, run, code, reason] of cases) await refused(command, run, code, reason);

    expect((await u.setBuyAmount('ABC', '60.00', next())).response.account).toEqual({
      cash: '40.00',
      reserved_cash: '60.00',
    });
    expect((await u.setBuyAmount('ABC', '20.00', next())).response.account).toEqual({
      cash: '80.00',
      reserved_cash: '20.00',
    });
    // Armed below the fixed price of 10.00: it must not fire.
    expect((await u.setBuyTrigger('ABC', '5.00', next())).response.trigger).toMatchObject({
      state: 'armed',
      trigger_price: '5.00',
    });
    // A trigger armed after it, at the price, fires on a later tick: that tick did not fire the first.
    const control = await user();
    await control.add('100.00', next());
    await control.setBuyAmount('ABC', '10.00', next());
    await control.setBuyTrigger('ABC', '10.00', next());
    const triggerState = async (name: string | undefined) =>
      (
        await db.pool.query(
          'SELECT t.state FROM triggers t JOIN users u ON u.id = t.user_id WHERE u.username = $1',
          [name],
        )
      ).rows.map((r) => r.state);
    await waitFor('the control trigger to fire', async () =>
      (await triggerState(control.session.username)).includes('fired'),
    );
    expect(await triggerState(u.session.username)).toEqual(['armed']);
    expect((await u.cancelSetBuy('ABC', next())).response.account).toEqual({
      cash: '100.00',
      reserved_cash: '0.00',
    });

    await u.setSellAmount('ABC', '50.00', next());
    await refused(
      'SET_SELL_TRIGGER',
      (n) => u.setSellTrigger('ABC', '20.00', n),
      status.FAILED_PRECONDITION,
      'INSUFFICIENT_SHARES',
    );
    expect((await u.cancelSetSell('ABC', next())).response.message).toContain('cancelled');
  });

  it('triggers racing on three replicas each fire once, at the price of the tick that fired them', async () => {
    const users = await Promise.all(Array.from({ length: 6 }, () => user()));
    for (const u of users) {
      await u.add('1000.00', next());
      // Buy 10 ABC to have shares to sell from a trigger.
      await u.buy('ABC', '100.00', await quote('ABC'), next());
      await u.commitBuy(next());
    }
    const before = (await db.pool.query("SELECT count(*)::int AS n FROM triggers WHERE state = 'fired'"))
      .rows[0].n;
    for (const u of users) {
      // A buy trigger at or above 10.00 and a sell trigger at or below it: the next tick fires both.
      await u.setBuyAmount('ABC', '55.00', next());
      await u.setBuyTrigger('ABC', '10.00', next());
      await u.setSellAmount('ABC', '30.00', next());
      await u.setSellTrigger('ABC', '10.00', next());
    }
    const deadline = Date.now() + 15_000;
    let fired: { fired_by: string; fired_price_cents: string; fired_shares: string; side: string }[] = [];
    while (fired.length < before + 12) {
      if (Date.now() > deadline) throw new Error(`only ${fired.length - before} of 12 triggers fired`);
      await new Promise((r) => setTimeout(r, 100));
      fired = (
        await db.pool.query(
          "SELECT fired_by, fired_price_cents, fired_shares, side FROM triggers WHERE state = 'fired'",
        )
      ).rows;
    }
    const mine = fired.slice(-12);
    expect(mine.every((t) => t.fired_price_cents === '1000')).toBe(true);
    expect(mine.filter((t) => t.side === 'buy').map((t) => t.fired_shares)).toEqual(Array(6).fill('5'));
    expect(mine.filter((t) => t.side === 'sell').map((t) => t.fired_shares)).toEqual(Array(6).fill('3'));
    const { rows } = await db.pool.query(
      "SELECT count(*)::int AS n FROM audit_events WHERE event_type = 'systemEvent' AND command IN ('SET_BUY_TRIGGER', 'SET_SELL_TRIGGER')",
    );
    expect(rows[0].n).toBe(before + 12);
    const report = await verifyDatabase(db.pool);
    expect(report.duplicate_effects).toBe(0);
    expect(report.violations).toEqual([]);
    for (const u of users) {
      const s = (await u.displaySummary(next())).response;
      // 1000 - 100 (bought) - 55 (reserve) + 5 (unspent) + 30 (3 sold at 10.00) = 880.00; 10 + 5 - 3 = 12 shares.
      expect(s.account).toEqual({ cash: '880.00', reserved_cash: '0.00' });
      expect(s.holdings).toEqual([{ symbol: 'ABC', shares: '12', reserved_shares: '0' }]);
      expect(s.triggers).toEqual([]);
    }
  });

  it('DUMPLOG: the whole log for the administrator only; a user gets their own part; both validate', async () => {
    const u = await user();
    await u.add('5.00', next());
    await refused(
      'DUMPLOG',
      (n) => u.dumpLog('./mine', true, n, () => {}),
      status.PERMISSION_DENIED,
      'NOT_ADMINISTRATOR',
    );
    let own = '';
    await u.dumpLog('./mine', false, next(), (xml) => {
      own += xml;
    });
    expect(await validateAuditLog(own)).toEqual([]);
    const ownEvents = parseAuditLog(own);
    expect(ownEvents.length).toBeGreaterThan(3);
    expect(new Set(ownEvents.map((e) => e.fields.username))).toEqual(new Set([u.session.username]));

    const admin = new TradingSession(client);
    await admin.login(ADMIN_USERNAME, readSecret(adminPasswordPath(feed.dataDir)));
    let whole = '';
    const { response } = await new DayTradingSession(admin).dumpLog('./all', true, next(), (xml) => {
      whole += xml;
    });
    expect(await validateAuditLog(whole)).toEqual([]);
    const all = parseAuditLog(whole);
    // Every event up to the dump's bound, and the user's own part among them.
    const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM audit_events WHERE id <= $1', [
      response.upto_event_id,
    ]);
    expect(all.length).toBe(rows[0].n);
    const key = (e: { type: string; fields: Record<string, string> }) => JSON.stringify(e);
    const allKeys = new Set(all.map(key));
    expect(ownEvents.filter((e) => !allKeys.has(key(e)))).toEqual([]);
    expect(all.length).toBeGreaterThan(ownEvents.length);
    expect(new Set(all.map((e) => e.fields.username)).size).toBeGreaterThan(3);
  });

  it('DUMPLOG misses no event whose id is below its bound but whose transaction was still open', async () => {
    const u = await user();
    await u.add('5.00', next());
    // An event inserted and not yet committed: its id is below the one DUMPLOG reads as its bound.
    const writer = await db.pool.connect();
    try {
      await writer.query('BEGIN');
      await writer.query(
        `INSERT INTO audit_events (event_type, server, transaction_num, user_id, username, command, funds_cents)
         SELECT 'userCommand', 'late-writer', 1, id, username, 'ADD', 100 FROM users WHERE username = $1`,
        [u.session.username],
      );
      let log = '';
      const dump = u.dumpLog('./late', false, next(), (xml) => {
        log += xml;
      });
      await new Promise((resolve) => setTimeout(resolve, 300));
      // Past its wait, a reader is told the log is busy rather than given a dump with a hole.
      expect(await new AuditReads(db.pool).awaitAuditWriters(50)).toBe(false);
      await writer.query('COMMIT');
      await dump;
      expect(await validateAuditLog(log)).toEqual([]);
      const servers = parseAuditLog(log).map((e) => e.fields.server);
      expect(servers).toContain('late-writer');
      expect(servers.at(-1)).not.toBe('late-writer');
    } finally {
      await writer.query('ROLLBACK').catch(() => {});
      writer.release();
    }
  });
});

describe('triggers on more symbols than the feed stream buffers', () => {
  // Sorted first, 20 symbols whose triggers the price never meets; after them, 40 that it meets.
  const unmet = Array.from({ length: 20 }, (_, i) => `A${String(i).padStart(2, '0')}`);
  const met = Array.from({ length: 40 }, (_, i) => `B${String(i).padStart(2, '0')}`);
  // Every symbol at a fixed 1.00, ticking every 100 ms.
  const system = useOneReplica('t1', {
    tickMs: 100,
    prices: Object.fromEntries([...unmet, ...met].map((s) => [s, 100n])),
  });

  it('fires every trigger whose price the feed meets, whatever the number of symbols armed', async () => {
    const session = new TradingSession(system.client);
    await session.register(uniqueUsername('wide'), 'day trader password');
    const u = new DayTradingSession(session);
    let txn = 0;
    await u.add('1000.00', ++txn);
    for (const symbol of unmet) {
      await u.setBuyAmount(symbol, '10.00', ++txn);
      await u.setBuyTrigger(symbol, '0.50', ++txn);
    }
    for (const symbol of met) {
      await u.setBuyAmount(symbol, '10.00', ++txn);
      await u.setBuyTrigger(symbol, '1.00', ++txn);
    }
    const triggers = async () =>
      (
        await system.db.pool.query<{
          symbol: string;
          state: string;
          fired_price_cents: string;
          fired_shares: string;
        }>('SELECT symbol, state, fired_price_cents, fired_shares FROM triggers ORDER BY symbol')
      ).rows;
    const firedCount = async () => (await triggers()).filter((t) => t.state === 'fired').length;
    await waitFor(
      `all ${met.length} met triggers to fire`,
      async () => (await firedCount()) >= met.length,
    ).catch(async (err: Error) => {
      throw new Error(`${err.message}: ${await firedCount()} fired`);
    });
    const rows = await triggers();
    expect(rows.filter((t) => t.state === 'fired').map((t) => t.symbol)).toEqual(met);
    expect(rows.filter((t) => t.state === 'armed').map((t) => t.symbol)).toEqual(unmet);
    for (const t of rows.filter((r) => r.state === 'fired')) {
      expect({ price: t.fired_price_cents, shares: t.fired_shares }).toEqual({ price: '100', shares: '10' });
    }
  });
});

describe('DayTrading input the SEng 468 log cannot hold, or over a limit', () => {
  let txn = 0;
  const next = () => ++txn;
  const LONG = ['ABCD', 'ABCDEFG'];
  // The feed quotes the long symbols too: only the DayTrading service refuses them.
  const system = useOneReplica('i1', {
    prices: { ABC: 1_000n, ABCD: 1_000n, ABCDEFG: 1_000n, ABCDEFGH: 1_000n },
  });

  async function user(): Promise<DayTradingSession> {
    const session = new TradingSession(system.client);
    await session.register(uniqueUsername('dti'), 'day trader password');
    return new DayTradingSession(session);
  }

  /** The refusal of `run`, and the events logged under its number for its user (Trading calls are numbered by the server). */
  async function refusal(u: DayTradingSession, run: (n: number) => Promise<unknown>) {
    const n = next();
    const err = await run(n).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ReplicatedCallError);
    const { rows } = await system.db.pool.query(
      `SELECT event_type, command, symbol, error_message FROM audit_events
       WHERE transaction_num = $1 AND username = $2 ORDER BY id`,
      [n, u.session.username],
    );
    return { err: err as ReplicatedCallError, events: rows };
  }

  it('a symbol of more than 3 characters is refused as an input error, logged without it, and the log validates', async () => {
    const u = await user();
    await u.add('1000.00', next());
    for (const symbol of LONG) {
      const q = await system.feed.quote(symbol);
      const cases: [string, (n: number) => Promise<unknown>][] = [
        ['QUOTE', (n) => u.quote(symbol, q, n)],
        ['BUY', (n) => u.buy(symbol, '100.00', q, n)],
        ['SELL', (n) => u.sell(symbol, '100.00', q, n)],
        ['SET_BUY_AMOUNT', (n) => u.setBuyAmount(symbol, '50.00', n)],
        ['SET_BUY_TRIGGER', (n) => u.setBuyTrigger(symbol, '5.00', n)],
        ['CANCEL_SET_BUY', (n) => u.cancelSetBuy(symbol, n)],
        ['SET_SELL_AMOUNT', (n) => u.setSellAmount(symbol, '50.00', n)],
        ['SET_SELL_TRIGGER', (n) => u.setSellTrigger(symbol, '50.00', n)],
        ['CANCEL_SET_SELL', (n) => u.cancelSetSell(symbol, n)],
      ];
      for (const [command, run] of cases) {
        const { err, events } = await refusal(u, run);
        expect({ code: err.code, reason: err.reason }, `${command} ${symbol}`).toEqual({
          code: status.INVALID_ARGUMENT,
          reason: 'INVALID_SYMBOL',
        });
        expect(err.message).toContain('1 to 3 upper-case letters');
        expect(events.map((e) => [e.event_type, e.command, e.symbol])).toEqual([
          ['userCommand', command, null],
          ['errorEvent', command, null],
        ]);
      }
    }
    // A 3-letter symbol is still taken, and logged.
    await u.quote('ABC', await system.feed.quote('ABC'), next());
    const summary = (await u.displaySummary(next())).response;
    expect(summary.account).toEqual({ cash: '1000.00', reserved_cash: '0.00' });
    expect(summary.triggers).toEqual([]);
    expect(summary.pending_orders).toEqual([]);

    let own = '';
    await u.dumpLog('./long-symbols', false, next(), (xml) => {
      own += xml;
    });
    expect(await validateAuditLog(own)).toEqual([]);
    const logged = parseAuditLog(own);
    expect(logged.filter((e) => e.type === 'errorEvent').length).toBe(LONG.length * 9);
    expect(logged.filter((e) => e.fields.stockSymbol === 'ABC').length).toBeGreaterThan(0);
  });

  it('the Trading service still takes an 8-character symbol', async () => {
    const session = new TradingSession(system.client);
    await session.register(uniqueUsername('tri'), 'trader password');
    await session.deposit('100.00');
    const { response } = await session.buy('ABCDEFGH', 2, await system.feed.quote('ABCDEFGH'));
    expect(response).toMatchObject({ trade: { symbol: 'ABCDEFGH', shares: '2' } });
  });

  it('an amount over the limit is refused as over the limit, naming the limit, by ADD and by Deposit', async () => {
    const u = await user();
    const { err, events } = await refusal(u, (n) => u.add('99999999999999999999.99', n));
    expect({ code: err.code, reason: err.reason }).toEqual({
      code: status.INVALID_ARGUMENT,
      reason: 'INVALID_AMOUNT',
    });
    expect(err.message).toMatch(/over the limit: at most 10000000000000\.00/);
    expect(err.message).not.toMatch(/fractional/);
    expect(events.map((e) => [e.event_type, e.command])).toEqual([
      ['userCommand', 'ADD'],
      ['errorEvent', 'ADD'],
    ]);
    expect(events[1]?.error_message).toBe(err.message);

    const deposit = await u.session.deposit('99999999999999999999.99').catch((e: ReplicatedCallError) => e);
    expect(deposit).toMatchObject({ code: status.INVALID_ARGUMENT, reason: 'INVALID_AMOUNT' });
    expect((deposit as ReplicatedCallError).message).toMatch(/over the limit: at most 10000000000000\.00/);
  });
});
