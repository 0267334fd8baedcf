import { status } from '@grpc/grpc-js';
import type { Pool, PoolClient } from '../common/database.js';
import type { DedupStrategy } from '../common/dedup-strategy.js';
import { HedgeError, isRetryable } from '../common/errors.js';
import { TIED_LOSS } from '../common/tied-copies.js';
import type { CallOrigin } from './call-origin.js';
import { countDedup } from './dedup-metrics.js';
import { type Operation, type OpRow, type Params, toJson, unwrap } from './operation.js';

const EXECUTE =
  'SELECT status, reason, message, body, dedup FROM execute_request($1, $2, $3, $4::jsonb, $5::jsonb, $6, $7, $8, $9)';

/** An executed_request (migrations/005): the answer and how this copy found its request id. */
type ExecutedRow = OpRow & { dedup: string | null };

/** What execute_request's stored_response answers a copy that is another request. */
function idempotencyKeyReused(requestId: string): HedgeError {
  return new HedgeError(
    status.FAILED_PRECONDITION,
    'IDEMPOTENCY_KEY_REUSED',
    `request id ${requestId} was already used for a different request; use a new id`,
  );
}

/**
 * Runs requests through the database's execute_request (sql/execution.sql): one
 * statement, one round trip, one transaction per request. The response comes
 * back as the JSON body of the proto message, exactly as stored, so every copy
 * of a request encodes to the same bytes.
 */
export class Executor {
  constructor(
    private readonly pool: Pool,
    readonly replicaId: string,
    readonly strategy: DedupStrategy,
  ) {}

  async execute<T>(
    op: Operation,
    requestId: string,
    tokenHash: Buffer | null,
    params: Params,
    extra: Params = {},
    /** The caller's trace id (stored with the request by the copy that claims it) and whether its copies are tied. */
    origin: CallOrigin = { tied: false },
  ): Promise<T> {
    const result = await this.pool.query<ExecutedRow>({
      name: 'execute_request',
      text: EXECUTE,
      values: [
        requestId,
        op,
        tokenHash,
        toJson(params),
        toJson(extra),
        this.strategy,
        this.replicaId,
        origin.traceId ?? null,
        origin.tied,
      ],
    });
    const row = result.rows[0];
    countDedup(row?.dedup);
    if (row?.dedup === 'tied') throw TIED_LOSS;
    return unwrap<T>(row);
  }

  /**
   * For Register and Login, whose work includes a scrypt computation in this
   * process: claim the request id first, then `prepare` (the scrypt), then
   * complete, all in one transaction, so concurrent copies wait on the claim
   * instead of each paying for the scrypt. A refusal thrown by `prepare` (a
   * HedgeError with an application status) is stored as the id's answer, like
   * every refusal; any other throw rolls the claim back: nothing is stored, and
   * a later copy may try again. A copy that finds a successful answer stored is
   * given it only if the check `sameCaller` reads says so (the password is no parameter:
   * copies are compared on it by the stored credential, decision 15).
   */
  async executeClaimedFirst<T>(
    op: 'register' | 'login',
    requestId: string,
    params: Params,
    prepare: (transaction: PoolClient) => Promise<Params>,
    sameCaller: (transaction: PoolClient) => Promise<() => Promise<boolean>>,
    traceId?: string,
  ): Promise<T> {
    const client = await this.pool.connect();
    let finished = false;
    try {
      await client.query('BEGIN');
      const claim = await client.query<ExecutedRow>({
        name: 'claim_request',
        text: 'SELECT status, reason, message, body, dedup FROM claim_request($1, $2, $3::jsonb, $4, $5)',
        values: [requestId, op, toJson(params), this.replicaId, traceId ?? null],
      });
      const stored = claim.rows[0];
      countDedup(stored?.dedup);
      if (stored && stored.status !== null) {
        // What the check needs is read in the transaction; the scrypt runs after it
        // ends, so a losing copy does not hold a connection open for it.
        const check = stored.status === 0 ? await sameCaller(client) : undefined;
        await client.query('COMMIT');
        finished = true;
        if (check && !(await check())) throw idempotencyKeyReused(requestId);
        return unwrap<T>(stored);
      }
      // Whatever `prepare` reads, it reads on this connection: taking a second one
      // from the pool while holding this one could exhaust the pool and deadlock.
      const extra = await prepare(client).catch(async (err: unknown) => {
        if (!(err instanceof HedgeError) || isRetryable(err.code)) throw err;
        await client.query({
          name: 'store_refusal',
          text: 'SELECT store_response($1, ROW($2, $3, $4, NULL)::op_result)',
          values: [requestId, err.code, err.reason, err.message],
        });
        await client.query('COMMIT');
        finished = true;
        throw err;
      });
      const completed = await client.query<OpRow>({
        name: 'complete_request',
        text: 'SELECT status, reason, message, body FROM complete_request($1, $2, $3::jsonb, $4::jsonb, $5)',
        values: [requestId, op, toJson(params), toJson(extra), this.replicaId],
      });
      await client.query('COMMIT');
      finished = true;
      return unwrap<T>(completed.rows[0]);
    } finally {
      if (finished) {
        client.release();
      } else {
        const rolledBack = await client.query('ROLLBACK').then(
          () => true,
          () => false,
        );
        // A connection that cannot even roll back is not given to the next request.
        client.release(!rolledBack);
      }
    }
  }
}
