import { generateKeyPairSync } from 'node:crypto';
import { Metadata, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyIdOf } from '../src/common/feed-key.js';
import { uuidv7 } from '../src/common/ids.js';
import { deadlineAfter, invoke } from '../src/common/rpc.js';
import { newSessionToken } from '../src/common/session-token.js';
import type { LoginRequest } from '../src/gen/hedge/v1/LoginRequest.js';
import type { RegisterRequest } from '../src/gen/hedge/v1/RegisterRequest.js';
import type { SignedQuote__Output } from '../src/gen/hedge/v1/SignedQuote.js';
import type { TradingClient } from '../src/gen/hedge/v1/Trading.js';
import type { RunningReplica } from '../src/replica/run-replica.js';
import { signQuote } from '../src/stock-feed/quote-book.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { expiredQuote, startTestFeed, type TestFeed } from './support/feed.js';
import { startInProcessReplica } from './support/replicas.js';
import { type CallFailure, failureOf, Trader, tradingClient, uniqueUsername } from './support/trader.js';

const MEGABYTE = 'x'.repeat(1024 * 1024);

describe('bad input gets a precise status, a readable message, and changes nothing', () => {
  let db: TestDatabase;
  let feed: TestFeed;
  let replica: RunningReplica;
  let client: TradingClient;
  let trader: Trader;
  const failures: CallFailure[] = [];

  /** Everything a refused request must leave as it was. */
  async function snapshot() {
    const q = async (sql: string) => (await db.pool.query(sql)).rows;
    return {
      users: await q('SELECT id, username FROM users ORDER BY id'),
      accounts: await q('SELECT user_id, cash, reserved_cash FROM accounts ORDER BY user_id'),
      holdings: await q(
        'SELECT user_id, symbol, shares, reserved_shares FROM holdings ORDER BY user_id, symbol',
      ),
      trades: await q('SELECT count(*)::int AS n FROM trades'),
      ledger: await q('SELECT count(*)::int AS n FROM ledger'),
      sessions: await q('SELECT count(*)::int AS n FROM sessions WHERE expires_at > now()'),
    };
  }

  /** The call fails with `code` (and `reason`), and the database is as it was. */
  async function expectRefused(
    call: () => Promise<unknown>,
    code: status,
    reason?: string,
  ): Promise<CallFailure> {
    const before = await snapshot();
    const failure = await failureOf(call());
    failures.push(failure);
    expect(failure.code, failure.details).toBe(code);
    if (reason) expect(failure.reason).toBe(reason);
    expect(failure.details.length).toBeGreaterThan(10);
    expect(await snapshot()).toEqual(before);
    return failure;
  }

  function quoteWithOtherKey(base: SignedQuote__Output, claimFeedKeyId: boolean): SignedQuote__Output {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    return signQuote(
      {
        symbol: base.symbol,
        priceCents: 1n,
        issuedAtMs: BigInt(base.issued_at_ms),
        expiresAtMs: BigInt(base.expires_at_ms),
        sequence: BigInt(base.sequence),
        keyId: claimFeedKeyId ? base.key_id : keyIdOf(publicKey),
      },
      privateKey,
    );
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    feed = await startTestFeed();
    replica = await startInProcessReplica({ databaseUrl: db.url, feedPublicKeyPath: feed.publicKeyPath });
    client = tradingClient(replica.address);
    trader = await Trader.open(client);
    await trader.deposit('1000.00');
    await trader.buy('ABC', 5, await feed.quote('ABC'));
  });

  afterAll(async () => {
    client?.close();
    await replica?.stop();
    await feed?.stop();
    await db?.drop();
  });

  /** Register or Login with well-formed fields, but for those given. */
  const register = (fields: Partial<RegisterRequest>) =>
    invoke((cb) =>
      client.Register(
        {
          request_id: uuidv7(),
          username: uniqueUsername(),
          password: 'long enough',
          session_token: newSessionToken(),
          ...fields,
        },
        cb,
      ),
    );
  const login = (fields: Partial<LoginRequest>) =>
    invoke((cb) =>
      client.Login(
        {
          request_id: uuidv7(),
          username: trader.username,
          password: 'correct horse',
          session_token: newSessionToken(),
          ...fields,
        },
        cb,
      ),
    );

  it.each(['0', '0.00', '-5', '-0.01', '1.001', '0.005', 'abc', '', '1e5', '12,50', '$10', ' 10', 'NaN'])(
    'deposit of %j: INVALID_ARGUMENT',
    async (amount) => {
      await expectRefused(() => trader.deposit(amount), status.INVALID_ARGUMENT, 'INVALID_AMOUNT');
    },
  );

  it('absurdly large amounts are refused without overflowing anywhere', async () => {
    await expectRefused(
      () => trader.deposit('99999999999999999999999999'),
      status.INVALID_ARGUMENT,
      'INVALID_AMOUNT',
    );
    await expectRefused(
      () => trader.deposit('9223372036854775807'),
      status.INVALID_ARGUMENT,
      'INVALID_AMOUNT',
    );
    await expectRefused(() => trader.deposit('10000000000000.01'), status.INVALID_ARGUMENT, 'INVALID_AMOUNT');
    const quote = await feed.quote('JKL');
    await expectRefused(
      () => trader.buy('JKL', '999999999999', quote),
      status.INVALID_ARGUMENT,
      'ORDER_TOO_LARGE',
    );
    await expectRefused(
      () => trader.buy('JKL', '9223372036854775807', quote),
      status.INVALID_ARGUMENT,
      'INVALID_SHARES',
    );
  });

  it('a balance cannot be pushed past its ceiling by repeated deposits', async () => {
    const whale = await Trader.open(client);
    for (let i = 0; i < 100; i++) await whale.deposit('10000000000000.00');
    await expectRefused(() => whale.deposit('0.01'), status.FAILED_PRECONDITION, 'BALANCE_LIMIT');
    expect((await whale.portfolio()).account?.cash).toBe('1000000000000000.00');
  });

  it.each(['0', '-1', '1000000000001', '-9223372036854775808'])(
    'buy of %j shares: INVALID_ARGUMENT',
    async (shares) => {
      await expectRefused(
        async () => trader.buy('ABC', shares, await feed.quote('ABC')),
        status.INVALID_ARGUMENT,
        'INVALID_SHARES',
      );
    },
  );

  it('unknown and malformed symbols', async () => {
    const quote = await feed.quote('ABC');
    await expectRefused(() => trader.buy('ZZZ', 1, quote), status.INVALID_ARGUMENT, 'QUOTE_SYMBOL_MISMATCH');
    await expectRefused(() => trader.buy('abc', 1, quote), status.INVALID_ARGUMENT, 'INVALID_SYMBOL');
    await expectRefused(() => trader.buy('', 1, quote), status.INVALID_ARGUMENT, 'INVALID_SYMBOL');
    await expectRefused(() => trader.buy('TOOLONGSYM', 1, quote), status.INVALID_ARGUMENT, 'INVALID_SYMBOL');
  });

  it.each(['ab', 'a'.repeat(33), 'with space', 'ünïcode', "robert'); DROP TABLE users;--", ''])(
    'username %j: INVALID_ARGUMENT',
    async (username) => {
      await expectRefused(() => register({ username }), status.INVALID_ARGUMENT, 'INVALID_USERNAME');
    },
  );

  it('passwords outside 8 to 256 characters', async () => {
    for (const password of ['short', 'p'.repeat(257)]) {
      await expectRefused(() => register({ password }), status.INVALID_ARGUMENT, 'INVALID_PASSWORD');
    }
  });

  it.each([
    ['empty', ''],
    ['malformed', 'not-a-uuid'],
    ['one digit short', '01890a5d-ac96-774b-bcce-b302099a805'],
    ['oversized', `${uuidv7()}${'0'.repeat(5000)}`],
    ['SQL', "'; DELETE FROM accounts; --"],
  ])('%s request id: INVALID_ARGUMENT', async (_label, requestId) => {
    await expectRefused(
      () => trader.deposit('1.00', requestId),
      status.INVALID_ARGUMENT,
      'INVALID_REQUEST_ID',
    );
  });

  it('a missing, wrong, malformed or expired session token', async () => {
    const call = (metadata: Metadata) =>
      invoke((cb) =>
        client.Deposit(
          { request_id: uuidv7(), amount: '5.00' },
          metadata,
          { deadline: deadlineAfter(5_000) },
          cb,
        ),
      );
    await expectRefused(() => call(new Metadata()), status.UNAUTHENTICATED, 'SESSION_MISSING');
    const wrong = new Metadata();
    wrong.set('authorization', `Bearer ${'A'.repeat(43)}`);
    await expectRefused(() => call(wrong), status.UNAUTHENTICATED, 'SESSION_INVALID');
    const malformed = new Metadata();
    malformed.set('authorization', 'Bearer not a token');
    await expectRefused(() => call(malformed), status.UNAUTHENTICATED, 'SESSION_INVALID');
    const basic = new Metadata();
    basic.set('authorization', 'Basic dXNlcjpwYXNz');
    await expectRefused(() => call(basic), status.UNAUTHENTICATED, 'SESSION_MISSING');

    const expiring = await Trader.open(client);
    await expiring.deposit('10.00');
    await db.pool.query(
      "UPDATE sessions SET expires_at = now() - interval '1 second' WHERE user_id = (SELECT id FROM users WHERE username = $1)",
      [expiring.username],
    );
    await expectRefused(() => expiring.deposit('1.00'), status.UNAUTHENTICATED, 'SESSION_INVALID');
    await expectRefused(() => expiring.portfolio(), status.UNAUTHENTICATED, 'SESSION_INVALID');
  });

  it('Register and Login need a well-formed session token chosen by the caller, not one in use', async () => {
    for (const session_token of ['', 'short', 'A'.repeat(44), `${'A'.repeat(42)}=`, MEGABYTE]) {
      await expectRefused(
        () => register({ session_token }),
        status.INVALID_ARGUMENT,
        'INVALID_SESSION_TOKEN',
      );
      await expectRefused(() => login({ session_token }), status.INVALID_ARGUMENT, 'INVALID_SESSION_TOKEN');
    }
    const token = String(trader.metadata.get('authorization')[0]).slice('Bearer '.length);
    const users = (await db.pool.query('SELECT count(*)::int AS n FROM users')).rows[0].n;
    await expectRefused(
      () => register({ session_token: token }),
      status.ALREADY_EXISTS,
      'SESSION_TOKEN_TAKEN',
    );
    expect((await db.pool.query('SELECT count(*)::int AS n FROM users')).rows[0].n).toBe(users);
    await expectRefused(() => login({ session_token: token }), status.ALREADY_EXISTS, 'SESSION_TOKEN_TAKEN');
  });

  it('a wrong password or unknown user cannot log in', async () => {
    await expectRefused(
      () => login({ password: 'wrong password' }),
      status.UNAUTHENTICATED,
      'BAD_CREDENTIALS',
    );
    await expectRefused(
      () => login({ username: 'nobody_here', password: 'whatever1' }),
      status.UNAUTHENTICATED,
      'BAD_CREDENTIALS',
    );
  });

  it('a quote with a changed price or symbol, signed by another key, expired, or for another symbol', async () => {
    const quote = await feed.quote('ABC');
    await expectRefused(
      () => trader.buy('ABC', 1, { ...quote, price: '0.01' }),
      status.INVALID_ARGUMENT,
      'BAD_SIGNATURE',
    );
    await expectRefused(
      () => trader.buy('DEF', 1, { ...quote, symbol: 'DEF' }),
      status.INVALID_ARGUMENT,
      'BAD_SIGNATURE',
    );
    await expectRefused(
      () =>
        trader.buy('ABC', 1, { ...quote, expires_at_ms: String(BigInt(quote.expires_at_ms) + 3_600_000n) }),
      status.INVALID_ARGUMENT,
      'BAD_SIGNATURE',
    );
    await expectRefused(
      () => trader.buy('ABC', 1, { ...quote, signature: Buffer.alloc(256) }),
      status.INVALID_ARGUMENT,
      'BAD_SIGNATURE',
    );
    await expectRefused(
      () => trader.buy('ABC', 1, quoteWithOtherKey(quote, false)),
      status.INVALID_ARGUMENT,
      'UNKNOWN_SIGNING_KEY',
    );
    await expectRefused(
      () => trader.buy('ABC', 1, quoteWithOtherKey(quote, true)),
      status.INVALID_ARGUMENT,
      'BAD_SIGNATURE',
    );
    const expired = expiredQuote(feed, 'ABC', 1_000n);
    await expectRefused(() => trader.buy('ABC', 1, expired), status.FAILED_PRECONDITION, 'QUOTE_EXPIRED');
    await expectRefused(() => trader.sell('ABC', 1, expired), status.FAILED_PRECONDITION, 'QUOTE_EXPIRED');
    await expectRefused(
      async () => trader.buy('ABC', 1, await feed.quote('DEF')),
      status.INVALID_ARGUMENT,
      'QUOTE_SYMBOL_MISMATCH',
    );
    await expectRefused(() => trader.buy('ABC', 1, null), status.INVALID_ARGUMENT, 'QUOTE_MISSING');
    await expectRefused(
      () => trader.buy('ABC', 1, { ...quote, price: 'abc' }),
      status.INVALID_ARGUMENT,
      'INVALID_AMOUNT',
    );
  });

  it('selling more shares than held, and buying beyond cash', async () => {
    // 5 ABC held, no DEF.
    for (const [symbol, shares] of [
      ['ABC', 6],
      ['DEF', 1],
    ] as const) {
      const quote = await feed.quote(symbol);
      await expectRefused(
        () => trader.sell(symbol, shares, quote),
        status.FAILED_PRECONDITION,
        'INSUFFICIENT_SHARES',
      );
    }
    // 1000.00 deposited, 5 ABC at 10.00 bought: 950.00 left; 1 JKL costs 1234.56.
    const failure = await expectRefused(
      async () => trader.buy('JKL', 1, await feed.quote('JKL')),
      status.FAILED_PRECONDITION,
      'INSUFFICIENT_FUNDS',
    );
    expect(failure.details).toContain('950.00');
  });

  it('strings with SQL metacharacters are data, never SQL', async () => {
    const password = `pa'ss"word;--\\ DROP TABLE users; $1 %s`;
    const username = uniqueUsername('o_brien');
    const sneaky = await Trader.open(client, username, password);
    expect((await sneaky.deposit('1.00')).cash).toBe('1.00');
    await expectRefused(
      () => trader.deposit('1; DROP TABLE accounts; --'),
      status.INVALID_ARGUMENT,
      'INVALID_AMOUNT',
    );
    await expectRefused(
      async () => trader.buy("ABC'; --", 1, await feed.quote('ABC')),
      status.INVALID_ARGUMENT,
      'INVALID_SYMBOL',
    );
    // The password signed in above (Trader.open logs in with it); the name is stored as given.
    const { rows } = await db.pool.query('SELECT username FROM users WHERE username = $1', [username]);
    expect(rows).toEqual([{ username }]);
  });

  it('megabyte-sized fields', async () => {
    await expectRefused(() => register({ username: MEGABYTE }), status.INVALID_ARGUMENT, 'INVALID_USERNAME');
    await expectRefused(() => register({ password: MEGABYTE }), status.INVALID_ARGUMENT, 'INVALID_PASSWORD');
    await expectRefused(() => trader.deposit(MEGABYTE), status.INVALID_ARGUMENT, 'INVALID_AMOUNT');
    await expectRefused(
      () => trader.deposit('1.00', MEGABYTE),
      status.INVALID_ARGUMENT,
      'INVALID_REQUEST_ID',
    );
    await expectRefused(
      async () => trader.buy(MEGABYTE, 1, await feed.quote('ABC')),
      status.INVALID_ARGUMENT,
      'INVALID_SYMBOL',
    );
    // Past the 4 MiB message limit the transport itself refuses the call.
    await expectRefused(() => trader.deposit('x'.repeat(5 * 1024 * 1024)), status.RESOURCE_EXHAUSTED);
  });

  it('no error carried a stack trace, SQL or an internal detail', () => {
    expect(failures.length).toBeGreaterThan(40);
    for (const f of failures) {
      expect(f.details).not.toMatch(
        /\bat .+:\d+:\d+|\.ts:\d+|SELECT|INSERT|UPDATE |relation |ERROR:|pg_|plpgsql|node_modules/i,
      );
    }
  });
});
