import { createHash } from 'node:crypto';
import { type ServiceError, status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import type { DedupStrategy } from '../src/common/dedup-strategy.js';
import { reasonOf } from '../src/common/errors.js';
import { exited } from '../src/common/hedge-process.js';
import { uuidv7 } from '../src/common/ids.js';
import { hedgeProto } from '../src/common/proto.js';
import { deadlineAfter, invoke } from '../src/common/rpc.js';
import { newSessionToken } from '../src/common/session-token.js';
import type { LoginResponse__Output } from '../src/gen/hedge/v1/LoginResponse.js';
import type { TradeRequest } from '../src/gen/hedge/v1/TradeRequest.js';
import type { TradeResponse__Output } from '../src/gen/hedge/v1/TradeResponse.js';
import { type TestDatabase, useTestDatabase } from './support/database.js';
import { useTestFeed } from './support/feed.js';
import { rawBuy } from './support/raw-buy.js';
import type { ReplicaProcess } from './support/replicas.js';
import { failureOf, Trader, tradingClient, uniqueUsername } from './support/trader.js';
import { useTradingReplicas } from './support/trading-replicas.js';
import { waitFor } from './support/wait.js';

async function effectsOf(db: TestDatabase, requestId: string) {
  const { rows } = await db.pool.query<{ trades: number; transactions: number }>(
    `SELECT (SELECT count(*)::int FROM trades WHERE request_id = $1) AS trades,
            (SELECT count(DISTINCT xid)::int FROM ledger WHERE request_id = $1) AS transactions`,
    [requestId],
  );
  return rows[0];
}

describe.each<DedupStrategy>(['cache', 'abort'])(
  'exactly once across three replica processes (%s)',
  (strategy) => {
    const db = useTestDatabase();
    const feed = useTestFeed();
    const system = useTradingReplicas(strategy, () => ({
      databaseUrl: db.url,
      feedPublicKeyPath: feed.publicKeyPath,
      strategy,
    }));

    it('N copies of one buy sent at once: one trade, N identical responses', async () => {
      const request: TradeRequest = {
        request_id: uuidv7(),
        symbol: 'ABC',
        shares: 7,
        quote: await feed.quote('ABC'),
      };
      const copies = 12;
      const results = await Promise.all(
        Array.from({ length: copies }, (_, i) =>
          rawBuy(system.replicas[i % 3]?.address ?? '', system.trader.metadata, request),
        ),
      );
      expect(results.every((r) => r.ok)).toBe(true);
      const first = (results[0] as { bytes: Buffer }).bytes;
      for (const r of results) expect((r as { bytes: Buffer }).bytes.equals(first)).toBe(true);
      expect(await effectsOf(db, request.request_id ?? '')).toEqual({ trades: 1, transactions: 1 });
      const decoded = hedgeProto().Trading.service.Buy.responseDeserialize(first) as TradeResponse__Output;
      expect(decoded.trade?.shares).toBe('7');
      expect(decoded.trade?.request_id).toBe(request.request_id);
    });

    it('many requests, each copied to every replica with jitter: every one executed exactly once', async () => {
      const before = await system.trader.portfolio();
      const quote = await feed.quote('DEF');
      const requests = Array.from({ length: 40 }, () => ({
        request_id: uuidv7(),
        symbol: 'DEF',
        shares: 1,
        quote,
      }));
      const results = await Promise.all(
        requests.flatMap((request) =>
          system.replicas.map(async (replica) => {
            await new Promise((r) => setTimeout(r, Math.random() * 20));
            return {
              id: request.request_id,
              result: await rawBuy(replica.address, system.trader.metadata, request),
            };
          }),
        ),
      );
      for (const request of requests) {
        const mine = results.filter((r) => r.id === request.request_id).map((r) => r.result);
        expect(mine.every((r) => r.ok)).toBe(true);
        const bytes = mine.map((r) => (r as { bytes: Buffer }).bytes.toString('base64'));
        expect(new Set(bytes).size).toBe(1);
        expect(await effectsOf(db, request.request_id)).toEqual({ trades: 1, transactions: 1 });
      }
      const after = await system.trader.portfolio();
      const cents = (s: string | undefined) => BigInt((s ?? '0').replace('.', ''));
      expect(cents(before.account?.cash) - cents(after.account?.cash)).toBe(40n * 2_550n);
    });

    it('copies of one login on every replica: one session, one token for all, and the token is stored nowhere', async () => {
      const username = system.trader.username;
      const token = newSessionToken();
      const request = { request_id: uuidv7(), username, password: 'correct horse', session_token: token };
      const before = (await db.pool.query('SELECT count(*)::int AS n FROM sessions')).rows[0].n;
      const logins = await Promise.all(
        system.replicas.map((r) => {
          const client = tradingClient(r.address);
          return invoke<LoginResponse__Output>((cb) =>
            client.Login(request, { deadline: deadlineAfter(20_000) }, cb),
          ).finally(() => client.close());
        }),
      );
      expect(logins.map((l) => l.session_token)).toEqual(system.replicas.map(() => token));
      expect((await db.pool.query('SELECT count(*)::int AS n FROM sessions')).rows[0].n).toBe(before + 1);
      // The stored answer every copy read holds no token: a copy of the database logs nobody in.
      const { rows } = await db.pool.query(
        'SELECT body::text AS body FROM request_log WHERE request_id = $1',
        [request.request_id],
      );
      expect(rows).toHaveLength(1);
      expect(rows[0].body).not.toContain(token);
      expect(rows[0].body).toContain('expires_at_ms');
      // The same id with another token is another request.
      const client = tradingClient(system.replicas[0]?.address ?? '');
      const err = await failureOf(
        invoke((cb) =>
          client.Login(
            { ...request, session_token: newSessionToken() },
            { deadline: deadlineAfter(20_000) },
            cb,
          ),
        ),
      ).finally(() => client.close());
      expect(err).toMatchObject({ code: status.FAILED_PRECONDITION, reason: 'IDEMPOTENCY_KEY_REUSED' });
    });

    /** One Register or Login call on replica `i`, its outcome as code and reason (0 for OK). */
    async function signIn(method: 'Register' | 'Login', i: number, request: object) {
      const client = tradingClient(system.replicas[i % system.replicas.length]?.address ?? '');
      try {
        await invoke((cb) => client[method](request as never, { deadline: deadlineAfter(20_000) }, cb));
        return { code: status.OK, reason: undefined };
      } catch (err) {
        return { code: (err as ServiceError).code, reason: reasonOf(err as ServiceError) };
      } finally {
        client.close();
      }
    }

    it('a copy of a Register with another password is another request; racing copies with the same one share its answer', async () => {
      const username = uniqueUsername('reg');
      const request = {
        request_id: uuidv7(),
        username,
        password: 'correct horse',
        session_token: newSessionToken(),
      };
      const copies = await Promise.all(system.replicas.map((_, i) => signIn('Register', i, request)));
      expect(copies).toEqual(system.replicas.map(() => ({ code: status.OK, reason: undefined })));
      expect(await signIn('Register', 1, { ...request, password: 'wrong password' })).toEqual({
        code: status.FAILED_PRECONDITION,
        reason: 'IDEMPOTENCY_KEY_REUSED',
      });
      expect(await signIn('Register', 2, request)).toEqual({ code: status.OK, reason: undefined });
      const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM users WHERE username = $1', [
        username,
      ]);
      expect(rows[0].n).toBe(1);
    });

    it('a refused Login is the answer of its request id; a successful one is not handed to another password', async () => {
      const base = { username: system.trader.username, session_token: newSessionToken() };
      const refused = { ...base, request_id: uuidv7(), password: 'wrong password' };
      const copies = await Promise.all(system.replicas.map((_, i) => signIn('Login', i, refused)));
      const badCredentials = { code: status.UNAUTHENTICATED, reason: 'BAD_CREDENTIALS' };
      expect(copies).toEqual(system.replicas.map(() => badCredentials));
      // The right password under the refused id: still refused, and no session was opened.
      expect(await signIn('Login', 1, { ...refused, password: 'correct horse' })).toEqual(badCredentials);
      const sessions = await db.pool.query('SELECT count(*)::int AS n FROM sessions WHERE token_hash = $1', [
        createHash('sha256').update(base.session_token).digest(),
      ]);
      expect(sessions.rows[0].n).toBe(0);
      // A mistyped password is retried with a new id, and that one decides afresh.
      const accepted = { ...base, request_id: uuidv7(), password: 'correct horse' };
      expect(await signIn('Login', 2, accepted)).toEqual({ code: status.OK, reason: undefined });
      expect(await signIn('Login', 0, { ...accepted, password: 'wrong password' })).toEqual({
        code: status.FAILED_PRECONDITION,
        reason: 'IDEMPOTENCY_KEY_REUSED',
      });
    });

    it('the same id with different parameters is refused on any replica', async () => {
      const quote = await feed.quote('ABC');
      const requestId = uuidv7();
      expect(
        (
          await rawBuy(system.replicas[0]?.address ?? '', system.trader.metadata, {
            request_id: requestId,
            symbol: 'ABC',
            shares: 1,
            quote,
          })
        ).ok,
      ).toBe(true);
      const reused = await rawBuy(system.replicas[1]?.address ?? '', system.trader.metadata, {
        request_id: requestId,
        symbol: 'ABC',
        shares: 2,
        quote,
      });
      expect(reused).toMatchObject({
        ok: false,
        code: status.FAILED_PRECONDITION,
        reason: 'IDEMPOTENCY_KEY_REUSED',
      });
      expect(await effectsOf(db, requestId)).toEqual({ trades: 1, transactions: 1 });
    });

    it('a refusal is the final answer for its request id, even after the cause goes away', async () => {
      const poor = await Trader.open(tradingClient(system.replicas[1]?.address ?? ''));
      const quote = await feed.quote('JKL');
      const requestId = uuidv7();
      expect((await failureOf(poor.buy('JKL', 1, quote, requestId))).reason).toBe('INSUFFICIENT_FUNDS');
      await poor.deposit('5000.00');
      expect((await failureOf(poor.buy('JKL', 1, quote, requestId))).reason).toBe('INSUFFICIENT_FUNDS');
      expect(await effectsOf(db, requestId)).toEqual({ trades: 0, transactions: 0 });
      poor.client.close();
    });

    it('a replica SIGKILLed in the middle of a transaction leaves nothing; the next copy completes it once', async () => {
      const victim = system.replicas[2] as ReplicaProcess;
      const survivor = system.replicas[0] as ReplicaProcess;
      const request: TradeRequest = {
        request_id: uuidv7(),
        symbol: 'GHI',
        shares: 3,
        quote: await feed.quote('GHI'),
      };
      const userId = (
        await db.pool.query('SELECT id FROM users WHERE username = $1', [system.trader.username])
      ).rows[0].id;
      const cashBefore = (await db.pool.query('SELECT cash FROM accounts WHERE user_id = $1', [userId]))
        .rows[0].cash;

      // Hold the account row: the victim's transaction will stop inside, waiting for it.
      const holder = await db.pool.connect();
      await holder.query('BEGIN');
      await holder.query('SELECT * FROM accounts WHERE user_id = $1 FOR UPDATE', [userId]);
      const inFlight = rawBuy(victim.address, system.trader.metadata, request);
      const waitingBackends = async () =>
        (
          await db.pool.query(
            "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'",
            [`hedge-replica-${victim.id}`],
          )
        ).rows[0].n;
      await waitFor(
        'the victim to block inside its transaction',
        async () => (await waitingBackends()) === 1,
      );

      victim.child.kill('SIGKILL');
      await exited(victim.child);
      expect((await inFlight).ok).toBe(false);
      // PostgreSQL notices the vanished client (client_connection_check_interval) and rolls back.
      await waitFor('the dead backend to roll back', async () => (await waitingBackends()) === 0);
      await holder.query('COMMIT');
      holder.release();

      expect(await effectsOf(db, request.request_id ?? '')).toEqual({ trades: 0, transactions: 0 });
      expect(
        (
          await db.pool.query('SELECT count(*)::int AS n FROM request_log WHERE request_id = $1', [
            request.request_id,
          ])
        ).rows[0].n,
      ).toBe(0);
      expect(
        (await db.pool.query('SELECT cash FROM accounts WHERE user_id = $1', [userId])).rows[0].cash,
      ).toBe(cashBefore);

      const retried = await rawBuy(survivor.address, system.trader.metadata, request);
      expect(retried.ok).toBe(true);
      const again = await rawBuy(survivor.address, system.trader.metadata, request);
      expect(again.ok && retried.ok && again.bytes.equals(retried.bytes)).toBe(true);
      expect(await effectsOf(db, request.request_id ?? '')).toEqual({ trades: 1, transactions: 1 });
      expect(
        BigInt((await db.pool.query('SELECT cash FROM accounts WHERE user_id = $1', [userId])).rows[0].cash),
      ).toBe(BigInt(cashBefore) - 3n * 99n);
    });
  },
);
