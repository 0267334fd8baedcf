import { setTimeout as delay } from 'node:timers/promises';
import { status } from '@grpc/grpc-js';
import type { Pool, PoolClient } from '../common/database.js';
import { HedgeError, isRetryable } from '../common/errors.js';

/**
 * 'cache': the first copy of a request claims its id and does the work; later
 *   copies wait on the claim and read the stored response.
 * 'abort': the seed's baseline without a response cache: every copy does the work,
 *   and a copy that then loses the id rolls its work back and reads the stored response.
 */
export type DedupStrategy = 'cache' | 'abort';
export const DEDUP_STRATEGIES: readonly DedupStrategy[] = ['cache', 'abort'];

export type Operation =
  | 'register'
  | 'login'
  | 'logout'
  | 'deposit'
  | 'buy'
  | 'sell'
  // The SEng 468 day-trading commands (sql/day_trading.sql).
  | 'add'
  | 'quote'
  | 'order_buy'
  | 'order_sell'
  | 'commit_buy'
  | 'cancel_buy'
  | 'commit_sell'
  | 'cancel_sell'
  | 'set_buy_amount'
  | 'set_sell_amount'
  | 'set_buy_trigger'
  | 'set_sell_trigger'
  | 'cancel_set_buy'
  | 'cancel_set_sell'
  | 'display_summary'
  | 'dump_log'
  | 'refuse';

/** One audit event as the log export reads it. */
export interface AuditRow {
  id: string;
  at_ms: string;
  event_type: string;
  server: string;
  transaction_num: string;
  username: string | null;
  command: string | null;
  symbol: string | null;
  filename: string | null;
  funds_cents: string | null;
  action: string | null;
  price_cents: string | null;
  quote_server_time_ms: string | null;
  cryptokey: string | null;
  error_message: string | null;
  debug_message: string | null;
}

/** A signed tick, as triggers are fired from it. */
export interface Tick {
  symbol: string;
  priceCents: bigint;
  issuedAtMs: bigint;
  sequence: bigint;
  signature: Buffer;
}

interface OpRow {
  status: number;
  reason: string | null;
  message: string | null;
  body: unknown;
}

const EXECUTE =
  'SELECT status, reason, message, body FROM execute_request($1, $2, $3, $4::jsonb, $5::jsonb, $6, $7)';

/**
 * A request's parameters as they travel to SQL: money and shares as decimal
 * strings (bigint is not JSON, and a float must never carry money), so the type
 * admits no bigint and no replacer is needed on the hot path.
 */
export type Params = { [key: string]: string | number | boolean | null | Params };

const toJson = (value: Params): string => JSON.stringify(value);

/**
 * The status an operation's SQL named (grpc_failed_precondition() and the others
 * of sql/vocabulary.sql) as the gRPC status of that name; a number gRPC does not
 * name is a bug, not an answer.
 */
function statusFromSql(code: number): status {
  const name = status[code] as keyof typeof status | undefined;
  if (name === undefined)
    throw new Error(`the database answered with status ${code}, which gRPC does not name`);
  return status[name];
}

function unwrap<T>(row: OpRow | undefined): T {
  if (!row) throw new Error('execute_request returned no row');
  const code = statusFromSql(row.status);
  if (code !== status.OK) {
    throw new HedgeError(code, row.reason ?? 'UNKNOWN', row.message ?? 'request refused');
  }
  return row.body as T;
}

/** What execute_request's stored_response answers a copy that is another request. */
function idempotencyKeyReused(requestId: string): HedgeError {
  return new HedgeError(
    status.FAILED_PRECONDITION,
    'IDEMPOTENCY_KEY_REUSED',
    `request id ${requestId} was already used for a different request; use a new id`,
  );
}

export interface FiringResult {
  fired: number;
  failures: { trigger_id: string; sqlstate: string; message: string }[];
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
  ): Promise<T> {
    const result = await this.pool.query<OpRow>({
      name: 'execute_request',
      text: EXECUTE,
      values: [requestId, op, tokenHash, toJson(params), toJson(extra), this.strategy, this.replicaId],
    });
    return unwrap<T>(result.rows[0]);
  }

  /**
   * For Register and Login, whose work includes a scrypt computation in this
   * process: claim the request id first, then `prepare` (the scrypt), then
   * complete, all in one transaction, so concurrent copies wait on the claim
   * instead of each paying for the scrypt. A refusal thrown by `prepare` (a
   * HedgeError with an application status) is stored as the id's answer, like
   * every refusal; any other throw rolls the claim back: nothing is stored, and
   * a later copy may try again. A copy that finds a successful answer stored is
   * given it only if `isSameCaller` says so (the password is no parameter:
   * copies are compared on it by the stored credential, decision 15).
   */
  async executeClaimedFirst<T>(
    op: 'register' | 'login',
    requestId: string,
    params: Params,
    prepare: (transaction: PoolClient) => Promise<Params>,
    isSameCaller: (transaction: PoolClient) => Promise<boolean>,
  ): Promise<T> {
    const client = await this.pool.connect();
    let finished = false;
    try {
      await client.query('BEGIN');
      const claim = await client.query<OpRow>({
        name: 'claim_request',
        text: 'SELECT status, reason, message, body FROM claim_request($1, $2, $3::jsonb, $4)',
        values: [requestId, op, toJson(params), this.replicaId],
      });
      const stored = claim.rows[0];
      if (stored && stored.status !== null) {
        const same = stored.status !== 0 || (await isSameCaller(client));
        await client.query('COMMIT');
        finished = true;
        if (!same) throw idempotencyKeyReused(requestId);
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

  async portfolio<T>(tokenHash: Buffer): Promise<T> {
    const result = await this.pool.query<OpRow>({
      name: 'read_portfolio',
      text: 'SELECT status, reason, message, body FROM read_portfolio($1)',
      values: [tokenHash],
    });
    return unwrap<T>(result.rows[0]);
  }

  async trades<T>(tokenHash: Buffer, limit: number, beforeId: bigint): Promise<T> {
    const result = await this.pool.query<OpRow>({
      name: 'read_trades',
      text: 'SELECT status, reason, message, body FROM read_trades($1, $2, $3)',
      values: [tokenHash, limit, beforeId.toString()],
    });
    return unwrap<T>(result.rows[0]);
  }

  /** The session's user; undefined when the session is not valid. */
  async sessionUser(tokenHash: Buffer): Promise<{ userId: string; isAdmin: boolean } | undefined> {
    const { rows } = await this.pool.query<{ id: string; is_admin: boolean }>({
      name: 'session_user',
      text: `SELECT u.id, u.is_admin FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.token_hash = $1 AND s.expires_at > now()`,
      values: [tokenHash],
    });
    const row = rows[0];
    return row && { userId: row.id, isAdmin: row.is_admin };
  }

  /**
   * Waits until the transactions writing audit events at this moment have ended;
   * false if they are still open after timeoutMs. An event's id is taken when it
   * is inserted, not when it commits, so a transaction still open can hold an id
   * below the largest one a reader sees: once these writers end, every id up to
   * a bound read earlier is committed or gone, and a dump up to it misses nothing.
   */
  async awaitAuditWriters(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (let open = await this.auditWriters(null); open !== null; open = await this.auditWriters(open)) {
      if (Date.now() > deadline) return false;
      await delay(2);
    }
    return true;
  }

  /** The open transactions that have written audit events (of `among`, if given); null for none. */
  private async auditWriters(among: string[] | null): Promise<string[] | null> {
    const { rows } = await this.pool.query<{ writers: string[] | null }>({
      name: 'audit_writers',
      text: `SELECT array_agg(virtualtransaction) AS writers FROM pg_locks
             WHERE locktype = 'relation' AND relation = 'audit_events'::regclass AND mode = 'RowExclusiveLock'
               AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
               AND ($1::text[] IS NULL OR virtualtransaction = ANY ($1))`,
      values: [among],
    });
    return rows[0]?.writers ?? null;
  }

  /** Audit events with after < id <= upto, of one user or all, in order. */
  async auditEvents(after: bigint, upto: bigint, userId: string | null, limit: number): Promise<AuditRow[]> {
    const { rows } = await this.pool.query<AuditRow>({
      name: 'audit_events',
      text: `SELECT id, epoch_ms(at) AS at_ms, event_type, server, transaction_num, username, command, symbol, filename,
                    funds_cents, action, price_cents, quote_server_time_ms, cryptokey, error_message, debug_message
             FROM audit_events
             WHERE id > $1 AND id <= $2 AND ($3::bigint IS NULL OR user_id = $3)
             ORDER BY id LIMIT $4`,
      values: [after.toString(), upto.toString(), userId, limit],
    });
    return rows;
  }

  /** The symbols some armed trigger waits on. */
  async armedSymbols(): Promise<string[]> {
    const { rows } = await this.pool.query<{ symbol: string }>({
      name: 'armed_symbols',
      text: "SELECT DISTINCT symbol FROM triggers WHERE state = 'armed' ORDER BY symbol",
    });
    return rows.map((r) => r.symbol);
  }

  /**
   * Fires every armed trigger these ticks satisfy. Returns how many fired here,
   * and the triggers that failed: each failure undid that trigger alone, which
   * stays armed for a later tick.
   */
  async fireTriggers(ticks: Tick[]): Promise<FiringResult> {
    const { rows } = await this.pool.query<{ result: FiringResult }>({
      name: 'fire_triggers',
      text: 'SELECT fire_triggers($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bytea[], $6) AS result',
      values: [
        ticks.map((t) => t.symbol),
        ticks.map((t) => t.priceCents.toString()),
        ticks.map((t) => t.issuedAtMs.toString()),
        ticks.map((t) => t.sequence.toString()),
        ticks.map((t) => t.signature),
        this.replicaId,
      ],
    });
    return rows[0]?.result ?? { fired: 0, failures: [] };
  }

  /** A user's stored password; `on` is a transaction's connection, when asked from inside one. */
  async credentials(
    username: string,
    on: Pool | PoolClient = this.pool,
  ): Promise<{ userId: string; params: string; salt: Buffer; hash: Buffer } | undefined> {
    const result = await on.query<{
      id: string;
      password_params: string;
      password_salt: Buffer;
      password_hash: Buffer;
    }>({
      name: 'credentials',
      text: 'SELECT id, password_params, password_salt, password_hash FROM users WHERE username = $1',
      values: [username],
    });
    const row = result.rows[0];
    return (
      row && { userId: row.id, params: row.password_params, salt: row.password_salt, hash: row.password_hash }
    );
  }
}
