import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uuidv7 } from '../src/common/ids.js';
import { formatCents } from '../src/common/money.js';
import { mulberry32 } from '../src/common/random.js';
import type { SignedQuote__Output } from '../src/gen/hedge/v1/SignedQuote.js';
import type { RunningReplica } from '../src/replica/run-replica.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { startTestFeed, TEST_PRICES, type TestFeed } from './support/feed.js';
import { startInProcessReplica } from './support/replicas.js';
import { Trader, tradingClient } from './support/trader.js';

const SEED = Number(process.env.HEDGE_TEST_SEED ?? 20261121);
const SYMBOLS = ['ABC', 'DEF', 'GHI'];

describe(`money is conserved through random trading (seed ${SEED})`, () => {
  let db: TestDatabase;
  let feed: TestFeed;
  let replicas: RunningReplica[];

  beforeAll(async () => {
    db = await createTestDatabase();
    feed = await startTestFeed();
    const setup = { databaseUrl: db.url, feedPublicKeyPath: feed.publicKeyPath };
    replicas = await Promise.all([startInProcessReplica(setup, 'c1'), startInProcessReplica(setup, 'c2')]);
  });

  afterAll(async () => {
    await Promise.all((replicas ?? []).map((r) => r.stop()));
    await feed?.stop();
    await db?.drop();
  });

  it('deposits = cash + reserved + held shares at their (fixed) trade prices, for every user', async () => {
    const quotes = new Map<string, SignedQuote__Output>();
    for (const s of SYMBOLS) quotes.set(s, await feed.quote(s));

    const users = await Promise.all(
      Array.from({ length: 4 }, async () => {
        // Each user's calls go to a random replica, and some of them in copies to both.
        const trader = await Trader.open(tradingClient(replicas[0]?.address ?? ''));
        return { deposited: 0n, sessions: [trader, trader.via(tradingClient(replicas[1]?.address ?? ''))] };
      }),
    );

    await Promise.all(
      users.map(async (user, index) => {
        // One generator per user: users run at once, and a shared one would make the seed reproduce nothing.
        const random = mulberry32(SEED + index);
        const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)] as T;
        for (let step = 0; step < 60; step++) {
          const copies = random() < 0.3 ? user.sessions : [pick(user.sessions)];
          const requestId = uuidv7();
          const roll = random();
          const symbol = pick(SYMBOLS);
          const shares = 1 + Math.floor(random() * 20);
          // Drawn once: the copies of one request carry the same parameters.
          const amount = formatCents(BigInt(1 + Math.floor(random() * 500_000)));
          const outcomes = await Promise.allSettled(
            copies.map((s) => {
              if (roll < 0.25) return s.deposit(amount, requestId);
              if (roll < 0.65) return s.buy(symbol, shares, quotes.get(symbol) ?? null, requestId);
              return s.sell(symbol, shares, quotes.get(symbol) ?? null, requestId);
            }),
          );
          if (roll < 0.25) {
            // Every copy of a deposit is answered with its one effect.
            expect(outcomes.map((o) => o.status)).toEqual(copies.map(() => 'fulfilled'));
            // However many copies were sent, the deposit is in the ledger once, with its amount.
            const { rows } = await db.pool.query('SELECT cash_delta FROM ledger WHERE request_id = $1', [
              requestId,
            ]);
            expect(rows).toHaveLength(1);
            expect(formatCents(BigInt(rows[0].cash_delta))).toBe(amount);
            user.deposited += BigInt(rows[0].cash_delta);
          }
        }
      }),
    );

    let trades = 0;
    for (const user of users) {
      const portfolio = await (user.sessions[0] as Trader).portfolio();
      const cents = (s: string | undefined) => BigInt((s ?? '0').replace('.', ''));
      const held = portfolio.holdings.reduce(
        (sum, h) => sum + BigInt(h.shares) * (TEST_PRICES[h.symbol] ?? 0n),
        0n,
      );
      expect(cents(portfolio.account?.cash) + cents(portfolio.account?.reserved_cash) + held).toBe(
        user.deposited,
      );
      trades += (await (user.sessions[0] as Trader).trades()).trades.length;
    }
    // The scenario really traded, and no request left more than one effect.
    expect(trades).toBeGreaterThan(50);
    const { rows } = await db.pool.query(
      'SELECT count(*)::int AS n FROM (SELECT request_id FROM ledger GROUP BY request_id HAVING count(DISTINCT xid) > 1) d',
    );
    expect(rows[0].n).toBe(0);
    for (const user of users) for (const s of user.sessions) s.client.close();
  });
});
