import { connect } from 'node:http2';
import { Metadata, type ServiceError, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RETRY_PUSHBACK_KEY, reasonOf } from '../src/common/errors.js';
import { uuidv7 } from '../src/common/ids.js';
import { createLogger } from '../src/common/logger.js';
import { metricsRegistry } from '../src/common/metrics.js';
import { deadlineAfter, invoke } from '../src/common/rpc.js';
import { SERVER_LIMITS } from '../src/common/server-limits.js';
import { newSessionToken } from '../src/common/session-token.js';
import type { LoginResponse__Output } from '../src/gen/hedge/v1/LoginResponse.js';
import type { TradingClient } from '../src/gen/hedge/v1/Trading.js';
import { type RunningReplica, runReplica } from '../src/replica/run-replica.js';
import { FREE_FAILURES } from '../src/replica/sign-in-throttle.js';
import { useTestDatabase } from './support/database.js';
import { startTestFeed, type TestFeed } from './support/feed.js';
import { Trader, tradingClient, uniqueUsername } from './support/trader.js';

interface Outcome {
  code: status;
  reason?: string;
  details: string;
  retryAfterMs?: number;
}

async function outcomeOf(promise: Promise<unknown>): Promise<Outcome> {
  try {
    await promise;
    return { code: status.OK, details: '' };
  } catch (err) {
    const e = err as ServiceError;
    const pushback = e.metadata?.get(RETRY_PUSHBACK_KEY)[0];
    return {
      code: e.code,
      reason: reasonOf(e),
      details: e.details,
      ...(pushback === undefined ? {} : { retryAfterMs: Number(pushback) }),
    };
  }
}

function login(
  client: TradingClient,
  username: string,
  password: string,
  requestId = uuidv7(),
  token = newSessionToken(),
) {
  return invoke<LoginResponse__Output>((cb) =>
    client.Login(
      { request_id: requestId, username, password, session_token: token },
      { deadline: deadlineAfter(20_000) },
      cb,
    ),
  );
}

/** A replica in this process, listening on every address (so a test can call it from 127.0.0.1 and from ::1). */
function startReplica(
  db: { url: string },
  feed: TestFeed,
  id: string,
  extra: Partial<Parameters<typeof runReplica>[0]>,
): Promise<RunningReplica> {
  return runReplica(
    {
      id,
      host: '::',
      port: 0,
      databaseUrl: db.url,
      feedPublicKeyPath: feed.publicKeyPath,
      strategy: 'cache',
      poolSize: 4,
      sessionTtlSeconds: 3_600,
      requestRetentionMs: 86_400_000,
      reapIntervalMs: 60_000,
      allowFaultInjection: false,
      ...extra,
    },
    createLogger('replica', { replica: id }),
  );
}

const portOf = (address: string) => address.slice(address.lastIndexOf(':') + 1);

describe('sign-in throttling, kept in the database', () => {
  const db = useTestDatabase();
  let feed: TestFeed;
  const replicas: RunningReplica[] = [];
  /** The guesser's view of the two replicas (over IPv4) and the rightful user's (over IPv6). */
  let guesser: TradingClient[];
  let owner: TradingClient;

  beforeAll(async () => {
    feed = await startTestFeed();
    // A wait long enough that no guess in the loop below outlasts it, however slow the machine.
    const signInLimits = { baseDelayMs: 10 * 60_000, capMs: 15 * 60_000 };
    for (const id of ['ta', 'tb']) replicas.push(await startReplica(db, feed, id, { signInLimits }));
    guesser = replicas.map((r) => tradingClient(`127.0.0.1:${portOf(r.address)}`));
    owner = tradingClient(`[::1]:${portOf(replicas[0]?.address ?? '')}`);
  });

  afterAll(async () => {
    for (const c of [...(guesser ?? []), owner]) c?.close();
    for (const r of replicas) await r.stop();
    await feed?.stop();
  });

  it('a guessing loop from one address is refused unchecked after the free failures, on every replica; the owner still signs in from another', async () => {
    const username = uniqueUsername('victim');
    const password = 'the right password';
    await Trader.open(owner, username, password);

    // One guess sent to both replicas under one request id counts once.
    const first = uuidv7();
    const token = newSessionToken();
    const copies = await Promise.all(
      guesser.map((c) => outcomeOf(login(c, username, 'wrong guess 0', first, token))),
    );
    expect(copies.map((o) => o.reason)).toEqual(['BAD_CREDENTIALS', 'BAD_CREDENTIALS']);

    const GUESSES = 12;
    const outcomes: Outcome[] = [];
    for (let i = 1; i < GUESSES; i += 1) {
      // Alternating replicas: the state is shared, so the answer does not depend on which one.
      outcomes.push(await outcomeOf(login(guesser[i % 2] as TradingClient, username, `wrong guess ${i}`)));
    }
    const free = FREE_FAILURES.loginUserAtPeer;
    // Free failures in all (the first guess was one), then every guess refused before its password is checked.
    expect(outcomes.slice(0, free - 1).map((o) => o.reason)).toEqual(Array(free - 1).fill('BAD_CREDENTIALS'));
    const refused = outcomes.slice(free - 1);
    expect(refused).toHaveLength(GUESSES - free);
    for (const o of refused) {
      expect(o).toMatchObject({ code: status.RESOURCE_EXHAUSTED, reason: 'SIGN_IN_THROTTLED' });
      expect(o.details).toMatch(/retry after \d+ s/);
      expect(o.retryAfterMs).toBeGreaterThan(9 * 60_000);
    }
    // The right password from the guesser's address is refused as well: a lucky guess learns nothing.
    expect(await outcomeOf(login(guesser[0] as TradingClient, username, password))).toMatchObject({
      code: status.RESOURCE_EXHAUSTED,
      reason: 'SIGN_IN_THROTTLED',
    });

    // What the database keeps: the failures that were checked, and the username from that address blocked.
    const state = await db.pool.query<{ key: string; failures: number; blocked: boolean }>(
      `SELECT key, failures, blocked_until > now() AS blocked FROM sign_in_throttle
       WHERE key LIKE $1 ORDER BY key`,
      [`login%${username}%`],
    );
    expect(state.rows.map((r) => [r.key.replace(/@.*/, '@peer'), r.failures, r.blocked])).toEqual([
      [`login-user:${username}`, free, false],
      [`login:${username}@peer`, free, true],
    ]);

    // The owner, from another address, signs in; that clears the username's count, not the guesser's block.
    const signedIn = await login(owner, username, password);
    expect(signedIn.session_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const after = await db.pool.query<{ key: string }>('SELECT key FROM sign_in_throttle WHERE key LIKE $1', [
      `login%${username}%`,
    ]);
    expect(after.rows.map((r) => r.key.replace(/@.*/, '@peer'))).toEqual([`login:${username}@peer`]);
    expect(await outcomeOf(login(guesser[1] as TradingClient, username, password))).toMatchObject({
      code: status.RESOURCE_EXHAUSTED,
    });
  });

  it('registering taken names from one address is slowed the same way', async () => {
    const username = uniqueUsername('taken');
    await Trader.open(owner, username, 'pw of the owner');
    const outcomes: Outcome[] = [];
    for (let i = 0; i < FREE_FAILURES.registerUser + 2; i += 1) {
      outcomes.push(
        await outcomeOf(
          invoke((cb) =>
            (guesser[i % 2] as TradingClient).Register(
              { request_id: uuidv7(), username, password: 'another pw', session_token: newSessionToken() },
              { deadline: deadlineAfter(20_000) },
              cb,
            ),
          ),
        ),
      );
    }
    expect(outcomes.map((o) => o.reason)).toEqual([
      ...Array(FREE_FAILURES.registerUser).fill('USERNAME_TAKEN'),
      'SIGN_IN_THROTTLED',
      'SIGN_IN_THROTTLED',
    ]);
  });
});

describe('limits per session and per message', () => {
  const db = useTestDatabase();
  let feed: TestFeed;
  let replica: RunningReplica;
  let client: TradingClient;
  const RATE = 20;

  beforeAll(async () => {
    feed = await startTestFeed();
    replica = await startReplica(db, feed, 'limits', { sessionRate: { perSecond: RATE, burst: RATE } });
    client = tradingClient(`127.0.0.1:${portOf(replica.address)}`);
  });

  afterAll(async () => {
    client?.close();
    await replica?.stop();
    await feed?.stop();
  });

  const refusedByRate = async () => {
    const text = (await metricsRegistry.getSingleMetricAsString('hedge_grpc_server_handled_total')).split(
      '\n',
    );
    return text
      .filter((l) => l.includes('grpc_method="GetPortfolio"') && l.includes('grpc_code="RESOURCE_EXHAUSTED"'))
      .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
  };

  it('a session flooding a replica gets RESOURCE_EXHAUSTED with a retry hint; another session is served throughout', async () => {
    const flooder = await Trader.open(client);
    const other = await Trader.open(client);
    const refusedBefore = await refusedByRate();
    const FLOOD = 10 * RATE;
    const flood = Promise.all(Array.from({ length: FLOOD }, () => outcomeOf(flooder.portfolio())));
    // While the flood is in flight, the other session's calls, one after another.
    const others: Outcome[] = [];
    for (let i = 0; i < RATE / 2; i += 1) others.push(await outcomeOf(other.portfolio()));
    const flooded = await flood;

    expect(others.map((o) => o.code)).toEqual(Array(RATE / 2).fill(status.OK));
    const refused = flooded.filter((o) => o.code === status.RESOURCE_EXHAUSTED);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.length + flooded.filter((o) => o.code === status.OK).length).toBe(FLOOD);
    for (const o of refused) {
      expect(o.reason).toBe('SESSION_RATE_EXCEEDED');
      expect(o.details).toMatch(new RegExp(`more than ${RATE} calls per second; retry after \\d+ ms`));
      expect(o.retryAfterMs).toBeGreaterThan(0);
    }
    // Each refusal is counted by its status, in the replica's metrics.
    expect((await refusedByRate()) - refusedBefore).toBe(refused.length);
    // Once the hint has passed, the flooder is served again.
    await new Promise((r) => setTimeout(r, Math.max(...refused.map((o) => o.retryAfterMs ?? 0)) + 100));
    expect((await outcomeOf(flooder.portfolio())).code).toBe(status.OK);
  });

  it('the server tells every connection its limit of concurrent streams (HTTP/2 SETTINGS)', async () => {
    const session = connect(`http://127.0.0.1:${portOf(replica.address)}`);
    try {
      const settings = await new Promise<{ maxConcurrentStreams?: number }>((resolve, reject) => {
        session.once('remoteSettings', resolve);
        session.once('error', reject);
      });
      expect(settings.maxConcurrentStreams).toBe(SERVER_LIMITS.maxConcurrentStreams);
    } finally {
      session.destroy();
    }
  });

  it('a message over the size limit is refused with RESOURCE_EXHAUSTED before any handler sees it', async () => {
    const trader = await Trader.open(client);
    const metadata = new Metadata();
    metadata.set('authorization', trader.metadata.get('authorization')[0] as string);
    const outcome = await outcomeOf(
      invoke((cb) =>
        client.Deposit(
          { request_id: uuidv7(), amount: '1'.repeat(5 * 1024 * 1024) },
          metadata,
          { deadline: deadlineAfter(20_000) },
          cb,
        ),
      ),
    );
    expect(outcome.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(outcome.details).toMatch(/message larger than max/i);
    expect((await trader.portfolio()).account?.cash).toBe('0.00');
  });
});
