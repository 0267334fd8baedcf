import { setTimeout as delay } from 'node:timers/promises';
import type { Pool } from '../common/database.js';

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

/** The audit log's reads, for DUMPLOG's export (sql/audit.sql writes it). */
export class AuditReads {
  constructor(private readonly pool: Pool) {}

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
}
