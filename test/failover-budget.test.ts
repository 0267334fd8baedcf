import { Server, type ServiceError, type sendUnaryData, status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { runCall } from '../src/client/call-engine.js';
import { ReplicaChannels } from '../src/client/replica-channels.js';
import { ReplicatedCallError, ReplicatedClient } from '../src/client/replicated-client.js';
import type { ReplicationMode } from '../src/client/replication-mode.js';
import { POLICIES } from '../src/client/replication-policy.js';
import { DATABASE_UNAVAILABLE, toServiceError } from '../src/common/errors.js';
import { hedgeProto } from '../src/common/proto.js';
import type { Portfolio } from '../src/gen/hedge/v1/Portfolio.js';
import { listen } from './support/fake-replicas.js';
import { GET_PORTFOLIO, PORTFOLIO_CALL } from './support/portfolio-call.js';
import { undoAfterEach } from './support/undo-after-each.js';

/** The client's ordinary deadline here; the fail-over outlasts it by far. */
const DEADLINE_MS = 1_000;

/**
 * How a replica answers while its database is away: DATABASE_UNAVAILABLE; a bare
 * UNAVAILABLE (a replica going away, no word about the database); or not at all
 * (its transaction held by a frozen primary).
 */
type Away = 'database' | 'bare' | 'silent';

/**
 * A real gRPC replica whose database is away for `awayMs` from the first call it
 * gets (measured by the server, so every call outlives the client's ordinary
 * deadline before the database is back), then answers.
 */
async function replicaAway(awayMs: number, away: Away): Promise<{ address: string; server: Server }> {
  const server = new Server();
  let firstCallAt: number | undefined;
  server.addService(hedgeProto().Trading.service, {
    GetPortfolio: (_call: unknown, callback: sendUnaryData<Portfolio>) => {
      firstCallAt ??= performance.now();
      if (performance.now() - firstCallAt >= awayMs) {
        callback(null, { account: { cash: '7', reserved_cash: '0' }, holdings: [] });
      } else if (away === 'database') {
        callback(toServiceError(DATABASE_UNAVAILABLE) as ServiceError);
      } else if (away === 'bare') {
        callback({ code: status.UNAVAILABLE, details: 'this replica is going away' } as ServiceError);
      }
      // silent: never answered; the client's attempt deadline ends it.
    },
  });
  return { address: await listen(server), server };
}

describe('the fail-over budget: a call outlives its deadline while the replicas say the database is away', () => {
  const undo = undoAfterEach();

  async function setUp(
    mode: ReplicationMode,
    awayMs: number,
    away: Away,
    tuning: { failoverBudgetMs?: number; attemptTimeoutMs?: number } = {},
  ) {
    const replicas = await Promise.all([1, 2, 3].map(() => replicaAway(awayMs, away)));
    for (const r of replicas) undo(() => r.server.forceShutdown());
    const client = await ReplicatedClient.connect({
      mode,
      replicas: replicas.map((r, i) => ({ id: `r${i + 1}`, address: r.address })),
      deadlineMs: DEADLINE_MS,
      ...tuning,
    });
    undo(() => client.close());
    return client;
  }

  it.each(['active', 'passive'] as const)(
    '%s: DATABASE_UNAVAILABLE for three deadlines, then an answer: the call succeeds (default budget)',
    async (mode) => {
      const client = await setUp(mode, 3 * DEADLINE_MS, 'database');
      const result = await client.call<Portfolio>(GET_PORTFOLIO, {});
      expect(result.response.account?.cash).toBe('7');
      expect(result.telemetry.failures.length).toBeGreaterThan(0);
      expect(result.telemetry.failures.every((f) => f.code === status.UNAVAILABLE)).toBe(true);
    },
  );

  it.each([
    ['active', {}],
    ['passive', { attemptTimeoutMs: 200 }],
  ] as const)(
    '%s: every replica silent for three deadlines (a frozen primary), then an answer: the call succeeds',
    async (mode, tuning) => {
      const client = await setUp(mode, 3 * DEADLINE_MS, 'silent', tuning);
      const result = await client.call<Portfolio>(GET_PORTFOLIO, {});
      expect(result.response.account?.cash).toBe('7');
      expect(result.telemetry.failures.some((f) => f.code === status.DEADLINE_EXCEEDED)).toBe(true);
    },
  );

  it('the same with a bare UNAVAILABLE (no word about the database): the call gives up at its deadline', async () => {
    const client = await setUp('active', 3 * DEADLINE_MS, 'bare');
    const err = await client.call(GET_PORTFOLIO, {}).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ReplicatedCallError);
    expect((err as ReplicatedCallError).code).toBe(status.DEADLINE_EXCEEDED);
    expect((err as ReplicatedCallError).details).toMatch(/^no replica answered within 1000 ms/);
  });

  it('a database away for longer than the budget: the call ends DEADLINE_EXCEEDED, saying why', async () => {
    const client = await setUp('active', 600_000, 'database', { failoverBudgetMs: 2 * DEADLINE_MS });
    const err = await client.call(GET_PORTFOLIO, {}).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ReplicatedCallError);
    expect((err as ReplicatedCallError).code).toBe(status.DEADLINE_EXCEEDED);
    expect((err as ReplicatedCallError).details).toMatch(
      /^no replica answered within 2000 ms \(a fail-over was under way: the database unavailable/,
    );
  });

  /** One call through the call engine over the three replicas, with its budgets given as they are. */
  async function engineCall(
    mode: ReplicationMode,
    awayMs: number,
    away: Away,
    budgets: { failoverBudgetMs: number; silenceBudgetMs: number },
  ) {
    const replicas = await Promise.all([1, 2, 3].map(() => replicaAway(awayMs, away)));
    for (const r of replicas) undo(() => r.server.forceShutdown());
    const channels = new ReplicaChannels(
      { number: 1n, members: replicas.map((r, i) => ({ id: `r${i + 1}`, address: r.address })) },
      undefined,
    );
    try {
      return await runCall<Buffer>(channels, {
        ...PORTFOLIO_CALL,
        policy: { ...POLICIES[mode], attemptTimeoutMs: 200 },
        mode,
        deadlineMs: DEADLINE_MS,
        ...budgets,
      }).then(
        (result) => ({ ok: true as const, result }),
        (err: unknown) => ({ ok: false as const, err }),
      );
    } finally {
      channels.close();
    }
  }

  it.each(['active', 'passive'] as const)(
    '%s: every replica silent and nothing else known (a client cut off looks so too): the call ends at the shorter silence budget, not the whole one',
    async (mode) => {
      const outcome = await engineCall(mode, 600_000, 'silent', {
        failoverBudgetMs: 60_000,
        silenceBudgetMs: 2_000,
      });
      expect(outcome.ok).toBe(false);
      const err = outcome.ok ? undefined : (outcome.err as ReplicatedCallError);
      expect(err).toBeInstanceOf(ReplicatedCallError);
      expect(err?.code).toBe(status.DEADLINE_EXCEEDED);
      expect(err?.details).toMatch(/^no replica answered within 2000 ms \(a fail-over was under way/);
    },
  );

  it('DATABASE_UNAVAILABLE past the silence budget: the call still gets the whole budget and succeeds', async () => {
    const outcome = await engineCall('active', 3 * DEADLINE_MS, 'database', {
      failoverBudgetMs: 60_000,
      silenceBudgetMs: 2 * DEADLINE_MS,
    });
    expect(outcome.ok && Buffer.isBuffer(outcome.result.response)).toBe(true);
  });
});
