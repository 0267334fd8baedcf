import { type Metadata, status } from '@grpc/grpc-js';
import { beforeAll, describe, expect, it } from 'vitest';
import { ReplicatedClient } from '../src/client/replicated-client.js';
import type { PoolClient } from '../src/common/database.js';
import { exited } from '../src/common/hedge-process.js';
import { uuidv7 } from '../src/common/ids.js';
import { hedgeProto } from '../src/common/proto.js';
import { TIED_KEY, TIED_LOSS_REASON } from '../src/common/tied-copies.js';
import type { TradeRequest } from '../src/gen/hedge/v1/TradeRequest.js';
import type { TradeResponse__Output } from '../src/gen/hedge/v1/TradeResponse.js';
import { useTestDatabase } from './support/database.js';
import { useTestFeed } from './support/feed.js';
import { type RawResult, rawBuy } from './support/raw-buy.js';
import { type ReplicaProcess, spawnReplica } from './support/replicas.js';
import { useTradingReplicas } from './support/trading-replicas.js';
import { waitFor } from './support/wait.js';

const BUY = hedgeProto().Trading.service.Buy;

describe('tied copies: a copy that finds a sibling executing its request, or its answer stored, answers at once', () => {
  const db = useTestDatabase();
  const feed = useTestFeed();
  const system = useTradingReplicas('tied', () => ({
    databaseUrl: db.url,
    feedPublicKeyPath: feed.publicKeyPath,
  }));
  let tied: Metadata;

  beforeAll(() => {
    tied = system.trader.metadata.clone();
    tied.set(TIED_KEY, '1');
  });

  /** Holds the trader's account row, so a copy that executes a trade blocks inside its statement. */
  async function holdAccount(): Promise<PoolClient> {
    const tx = await db.pool.connect();
    await tx.query('BEGIN');
    await tx.query(
      'SELECT 1 FROM accounts WHERE user_id = (SELECT id FROM users WHERE username = $1) FOR UPDATE',
      [system.trader.username],
    );
    return tx;
  }

  async function release(tx: PoolClient): Promise<void> {
    await tx.query('ROLLBACK');
    tx.release();
  }

  /** Backends waiting on a lock: the executing copy (on the account row) and copies waiting on its claim. */
  async function lockWaiters(): Promise<number> {
    const { rows } = await db.pool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
    );
    return rows[0]?.n ?? 0;
  }

  async function effects(requestId: string) {
    const { rows } = await db.pool.query<{ trades: number; logged: number }>(
      `SELECT (SELECT count(*)::int FROM trades WHERE request_id = $1) AS trades,
              (SELECT count(*)::int FROM request_log WHERE request_id = $1) AS logged`,
      [requestId],
    );
    return rows[0];
  }

  /** Two replicas of the test's own (`first` is the one the test breaks) and an active client of both. */
  async function twoReplicas(firstId: string, budget: { deadlineMs: number; failoverBudgetMs?: number }) {
    const setup = { databaseUrl: db.url, feedPublicKeyPath: feed.publicKeyPath };
    const [first, survivor] = await Promise.all([
      spawnReplica(setup, `tied-${firstId}`),
      spawnReplica(setup, `tied-${firstId}-survivor`),
    ]);
    const client = await ReplicatedClient.connect({
      mode: 'active',
      replicas: [
        { id: firstId, address: first.address },
        { id: 'survivor', address: survivor.address },
      ],
      ...budget,
    });
    return { first, survivor, client };
  }

  const newBuy = async (): Promise<TradeRequest> => ({
    request_id: uuidv7(),
    symbol: 'ABC',
    shares: 3,
    quote: await feed.quote('ABC'),
  });

  it('a tied copy answers TIED_COPY_LOST while its sibling executes and after it committed; an untied one gets the answer', async () => {
    const request = await newBuy();
    const [a, b, c] = system.replicas.map((r) => r.address) as [string, string, string];
    const tx = await holdAccount();
    let executing: Promise<RawResult> | undefined;
    let waiting: Promise<RawResult> | undefined;
    try {
      executing = rawBuy(a, tied, request);
      await waitFor('the executing copy blocked on the account row', async () => (await lockWaiters()) === 1);
      // The sibling is inside its statement and cannot commit: an answer now did not wait for it.
      expect(await rawBuy(b, tied, request)).toMatchObject({
        ok: false,
        code: status.ABORTED,
        reason: TIED_LOSS_REASON,
      });
      waiting = rawBuy(c, system.trader.metadata, request);
      await waitFor('the untied copy waiting on the claim', async () => (await lockWaiters()) === 2);
    } finally {
      await release(tx);
    }
    const [first, second] = await Promise.all([executing, waiting]);
    expect(first?.ok).toBe(true);
    expect(second?.ok).toBe(true);
    const bytes = (first as { bytes: Buffer }).bytes;
    expect((second as { bytes: Buffer }).bytes.equals(bytes)).toBe(true);
    // After the commit: a tied copy loses at once (its sibling answered), an untied one is given the stored answer.
    expect(await rawBuy(b, tied, request)).toMatchObject({
      ok: false,
      code: status.ABORTED,
      reason: TIED_LOSS_REASON,
    });
    const late = await rawBuy(b, system.trader.metadata, request);
    expect(late.ok && late.bytes.equals(bytes)).toBe(true);
    expect(await effects(request.request_id ?? '')).toEqual({ trades: 1, logged: 1 });
  });

  it("a tied copy's answer stores nothing: with no sibling executing, the next copy of the id executes it", async () => {
    const request = await newBuy();
    const tx = await db.pool.connect();
    try {
      // The lock a sibling would hold, taken as execute_request takes it.
      await tx.query('BEGIN');
      await tx.query('SELECT pg_advisory_xact_lock(tied_copies_lock_class(), hashtext($1::uuid::text))', [
        request.request_id,
      ]);
      const lost = await rawBuy(system.replicas[1]?.address ?? '', tied, request);
      expect(lost).toMatchObject({ ok: false, code: status.ABORTED, reason: TIED_LOSS_REASON });
      expect(await effects(request.request_id ?? '')).toEqual({ trades: 0, logged: 0 });
    } finally {
      await tx.query('ROLLBACK');
      tx.release();
    }
    const done = await rawBuy(system.replicas[1]?.address ?? '', tied, request);
    expect(done.ok).toBe(true);
    expect(await effects(request.request_id ?? '')).toEqual({ trades: 1, logged: 1 });
  });

  it('active client: a call repeated under an answered request id gets the stored answer (its tied copies all lose, its untied round reads it)', async () => {
    const client = await ReplicatedClient.connect({
      mode: 'active',
      replicas: system.replicas.map((r, i) => ({ id: `r${i + 1}`, address: r.address })),
      deadlineMs: 30_000,
    });
    try {
      const request = await newBuy();
      const first = await client.call<TradeResponse__Output>(BUY, request, system.trader.metadata);
      expect(first.telemetry.attempts).toBe(3);
      const again = await client.call<TradeResponse__Output>(BUY, request, system.trader.metadata);
      expect(again.response).toEqual(first.response);
      expect(again.telemetry.attempts).toBe(6);
      expect(again.telemetry.failures).toEqual([]);
      expect(await effects(request.request_id ?? '')).toEqual({ trades: 1, logged: 1 });
    } finally {
      client.close();
    }
  });

  /**
   * An active call over two replicas of the test's own whose executing copy is `first`'s: the
   * survivor is stopped until `first`'s copy is inside its statement (held on the account row),
   * then `breakIt` breaks `first` and the survivor runs again, until `waiters` backends wait on a
   * lock (`waiting` says which); the call's answer must come from the survivor once the row is
   * released.
   */
  async function executingCopyBroken(
    firstId: string,
    breakIt: (first: ReplicaProcess) => Promise<void>,
    budget: { deadlineMs: number; failoverBudgetMs?: number },
    waiting: { what: string; waiters: number },
  ) {
    const { first, survivor, client } = await twoReplicas(firstId, budget);
    const tx = await holdAccount();
    let released = false;
    try {
      const request = await newBuy();
      survivor.child.kill('SIGSTOP');
      const call = client.call<TradeResponse__Output>(BUY, request, system.trader.metadata);
      await waitFor(`the ${firstId} copy executing`, async () => (await lockWaiters()) === 1);
      await breakIt(first);
      survivor.child.kill('SIGCONT');
      await waitFor(waiting.what, async () => (await lockWaiters()) === waiting.waiters, 20_000);
      await release(tx);
      released = true;
      const result = await call;
      expect(result.response.trade?.shares).toBe('3');
      expect(result.telemetry.answeredBy).toBe('survivor');
      expect(await effects(request.request_id ?? '')).toEqual({ trades: 1, logged: 1 });
      return result.telemetry;
    } finally {
      if (!released) await release(tx);
      first.child.kill('SIGCONT');
      survivor.child.kill('SIGCONT');
      client.close();
      await Promise.all([first.stop(), survivor.stop()]);
    }
  }

  it('active client: the executing copy’s replica dies mid-statement; PostgreSQL rolls its copy back, and the sibling’s tied copy, finding nothing held, executes the request once', async () => {
    // PostgreSQL notices the vanished client within 250 ms (client_connection_check_interval)
    // and rolls its statement back, claim and lock with it; only then does the survivor run.
    const telemetry = await executingCopyBroken(
      'doomed',
      async (doomed) => {
        doomed.child.kill('SIGKILL');
        await exited(doomed.child);
        await waitFor('the doomed copy rolled back', async () => (await lockWaiters()) === 0);
      },
      { deadlineMs: 30_000 },
      { what: 'the survivor’s tied copy executing', waiters: 1 },
    );
    expect(telemetry.attempts).toBe(2);
    expect(telemetry.failures.map((f) => [f.replica, f.code])).toEqual([['doomed', status.UNAVAILABLE]]);
  });

  it('active client: the executing copy’s replica freezes (its transaction still commits) and its sibling lost tied: the sibling is asked again untied and gives the answer long before the deadline', async () => {
    // Its statement is in PostgreSQL, which finishes it; its answer never leaves the replica.
    // Without the untied re-ask the call would wait for the frozen copy until the deadline.
    const telemetry = await executingCopyBroken(
      'frozen',
      async (frozen) => {
        frozen.child.kill('SIGSTOP');
      },
      { deadlineMs: 15_000, failoverBudgetMs: 15_000 },
      // Its backend holds the claim (its replica's socket is open): the re-asked untied copy waits on it.
      { what: 'the untied copy waiting on the claim', waiters: 2 },
    );
    expect(telemetry.failures).toEqual([]);
  });
});
