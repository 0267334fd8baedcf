import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DayTradingSession } from '../src/client/day-trading-session.js';
import { QuoteSource } from '../src/client/quote-source.js';
import { ReplicatedCallError, ReplicatedClient } from '../src/client/replicated-client.js';
import { TradingSession } from '../src/client/trading-session.js';
import { readFeedPublicKey, verifyQuoteSignature } from '../src/common/feed-key.js';
import { exited } from '../src/common/hedge-process.js';
import { formatCents, parseAmount } from '../src/common/money.js';
import { makeTempDataDir, trustedFeedKeysDir } from '../src/common/paths.js';
import { hedgeProto } from '../src/common/proto.js';
import { deadlineAfter, invoke } from '../src/common/rpc.js';
import type { SignedQuote__Output } from '../src/gen/hedge/v1/SignedQuote.js';
import { PriceModel } from '../src/stock-feed/price-model.js';
import { channelCredentials } from '../src/tls/transport.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { startTestFeed } from './support/feed.js';
import { type FeedProcess, spawnFeed } from './support/feed-process.js';
import { type ReplicaProcess, spawnReplica } from './support/replicas.js';
import { uniqueUsername } from './support/trader.js';
import { waitFor } from './support/wait.js';

const SEED = 11;
const TICK_MS = 200;
const SYMBOLS = ['ABC', 'DEF', 'GHI', 'JKL', 'MNO', 'PQR'];
const FEED_ARGS = ['--seed', String(SEED), '--tick', `${TICK_MS}ms`, '--symbols', SYMBOLS.join(',')];
/** The feeds' walk, computed here: any feed of this seed and tick must quote exactly it. */
const model = new PriceModel({ symbols: SYMBOLS, seed: SEED, mode: 'walk', tickMs: TICK_MS });

function fieldsOf(q: SignedQuote__Output) {
  return {
    symbol: q.symbol,
    priceCents: parseAmount(q.price, 'price'),
    issuedAtMs: BigInt(q.issued_at_ms),
    expiresAtMs: BigInt(q.expires_at_ms),
    sequence: BigInt(q.sequence),
    keyId: q.key_id,
  };
}

function getQuote(address: string, symbol: string): Promise<SignedQuote__Output> {
  const client = new (hedgeProto().StockFeed)(address, channelCredentials());
  return invoke<SignedQuote__Output>((cb) =>
    client.GetQuote({ symbol }, { deadline: deadlineAfter(5_000) }, cb),
  ).finally(() => client.close());
}

/**
 * The first tick at least `lead` ticks after `from` whose price of some symbol
 * is below every price of that symbol since `from`: a buy trigger at that price
 * fires on exactly that tick, and on none before it.
 */
function nextLow(from: bigint, lead: number): { symbol: string; tick: bigint; priceCents: bigint } {
  let best: { symbol: string; tick: bigint; priceCents: bigint } | undefined;
  for (const symbol of SYMBOLS) {
    let low = model.priceAt(symbol, from + 1n) ?? 0n;
    for (let i = 2n; i < 600n; i++) {
      const tick = from + i;
      const price = model.priceAt(symbol, tick) ?? 0n;
      if (price < low && i >= BigInt(lead)) {
        if (!best || tick < best.tick) best = { symbol, tick, priceCents: price };
        break;
      }
      if (price < low) low = price;
    }
  }
  if (!best) throw new Error('no new low in 600 ticks of any symbol');
  return best;
}

describe('two feeds of one seed, each with its own key', () => {
  let db: TestDatabase;
  let dataDir: string;
  let feeds: FeedProcess[] = [];
  let replicas: ReplicaProcess[] = [];
  let client: ReplicatedClient;
  let feedList: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    dataDir = makeTempDataDir('hedge-test-feeds-');
    feeds = await Promise.all(['feed', 'feed-2'].map((name) => spawnFeed(dataDir, name, FEED_ARGS)));
    feedList = feeds.map((f) => f.address).join(',');
    // Each replica trusts the keys the two feeds put in <dataDir>/feed-keys/, and follows both.
    const setup = {
      databaseUrl: db.url,
      feedPublicKeyPath: trustedFeedKeysDir(dataDir),
      feedAddress: feedList,
    };
    replicas = await Promise.all(['f1', 'f2'].map((id) => spawnReplica(setup, id)));
    client = await ReplicatedClient.connect({
      mode: 'active',
      replicas: replicas.map((r) => ({ id: r.id, address: r.address })),
    });
  }, 60_000);

  afterAll(async () => {
    client?.close();
    await Promise.all([...replicas, ...feeds].map((p) => p.stop()));
    await db?.drop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  async function trader(): Promise<TradingSession> {
    const session = new TradingSession(client);
    await session.register(uniqueUsername('feeds'), 'feeds test password');
    await session.deposit('100000.00');
    return session;
  }

  it('sign the same fields for the same tick: the price of the walk at that tick, under each its own key', async () => {
    const [a, b] = feeds as [FeedProcess, FeedProcess];
    let pair: [SignedQuote__Output, SignedQuote__Output] | undefined;
    await waitFor('both feeds to quote one tick', async () => {
      const quotes = await Promise.all([getQuote(a.address, 'ABC'), getQuote(b.address, 'ABC')]);
      if (quotes[0].sequence !== quotes[1].sequence) return false;
      pair = quotes;
      return true;
    });
    const [qa, qb] = pair as [SignedQuote__Output, SignedQuote__Output];
    const { keyId: keyA, ...fieldsA } = fieldsOf(qa);
    const { keyId: keyB, ...fieldsB } = fieldsOf(qb);
    expect(fieldsA).toEqual(fieldsB);
    expect(fieldsA.priceCents).toBe(model.priceAt('ABC', fieldsA.sequence));
    expect(fieldsA.issuedAtMs).toBe(fieldsA.sequence * BigInt(TICK_MS));
    expect(keyA).not.toBe(keyB);
    const trusted = trustedFeedKeysDir(dataDir);
    expect(
      verifyQuoteSignature(fieldsOf(qa), qa.signature, readFeedPublicKey(join(trusted, 'feed.pem'))),
    ).toBe(true);
    expect(
      verifyQuoteSignature(fieldsOf(qb), qb.signature, readFeedPublicKey(join(trusted, 'feed-2.pem'))),
    ).toBe(true);
  });

  it("replicas take either feed's quote and refuse one signed by a key outside the trusted set", async () => {
    const session = await trader();
    for (const feed of feeds) {
      const { response } = await session.buy('DEF', 1, await getQuote(feed.address, 'DEF'));
      expect(response.trade?.symbol).toBe('DEF');
    }
    // A real feed with the same walk, but its own data directory: its key is in no replica's set.
    const stranger = await startTestFeed({ prices: { DEF: 1_000n } });
    try {
      const err = await session.buy('DEF', 1, await stranger.quote('DEF')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ReplicatedCallError);
      expect((err as ReplicatedCallError).reason).toBe('UNKNOWN_SIGNING_KEY');
    } finally {
      await stranger.stop();
    }
    const { rows } = await db.pool.query(
      'SELECT count(*)::int AS n FROM trades t JOIN users u ON u.id = t.user_id WHERE u.username = $1',
      [session.username],
    );
    expect(rows[0].n).toBe(2);
  });

  it('SIGKILL of one feed: quotes keep coming from the other, and a trigger armed across the kill fires once', async () => {
    const quotes = new QuoteSource(feedList);
    try {
      await quotes.follow(SYMBOLS);
      const session = await trader();
      const user = new DayTradingSession(session);
      // A low some symbol reaches 8 s or more from now: a buy trigger at it stays armed until then.
      const low = nextLow(model.sequence, 8_000 / TICK_MS);
      await user.setBuyAmount(low.symbol, '5000.00');
      await user.setBuyTrigger(low.symbol, formatCents(low.priceCents));
      const killed = feeds[0] as FeedProcess;
      const atKill = BigInt((await quotes.get(low.symbol)).sequence);
      killed.child.kill('SIGKILL');
      await exited(killed.child);
      expect(BigInt(model.sequence)).toBeLessThan(low.tick);

      await waitFor('quotes to go on, from the feed left', async () => {
        const q = await quotes.get(low.symbol);
        return BigInt(q.sequence) >= atKill + 10n;
      });
      const fired = async () =>
        (
          await db.pool.query<{ state: string; fired_by: string; fired_price_cents: string }>(
            'SELECT t.state, t.fired_by, t.fired_price_cents FROM triggers t JOIN users u ON u.id = t.user_id WHERE u.username = $1',
            [session.username],
          )
        ).rows;
      await waitFor('the trigger to fire', async () => (await fired())[0]?.state === 'fired', 30_000);
      // A few more ticks, on both replicas: none fires it again.
      await new Promise((r) => setTimeout(r, 10 * TICK_MS));
      const [trigger] = await fired();
      expect(trigger?.state).toBe('fired');
      expect(['f1', 'f2']).toContain(trigger?.fired_by);
      const { rows: trades } = await db.pool.query<{ quote_sequence: string; price_cents: string }>(
        'SELECT t.quote_sequence, t.price_cents FROM trades t JOIN users u ON u.id = t.user_id WHERE u.username = $1',
        [session.username],
      );
      expect(trades).toHaveLength(1);
      const [trade] = trades as [{ quote_sequence: string; price_cents: string }];
      // Fired by a tick of the feed left, at the walk's price of that tick.
      expect(BigInt(trade.quote_sequence)).toBeGreaterThanOrEqual(low.tick);
      expect(BigInt(trade.price_cents)).toBe(model.priceAt(low.symbol, BigInt(trade.quote_sequence)));
      expect(BigInt(trade.price_cents)).toBeLessThanOrEqual(low.priceCents);
      expect(trigger?.fired_price_cents).toBe(trade.price_cents);
    } finally {
      quotes.close();
    }
  });
});
