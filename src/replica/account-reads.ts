import type { Pool, PoolClient } from '../common/database.js';
import { type OpRow, unwrap } from './operation.js';

/**
 * The reads of an account (read_portfolio and read_trades in sql/trading.sql) and
 * of the sessions and credentials a call is checked against. None is a request:
 * a read needs no request id and stores nothing.
 */
export class AccountReads {
  constructor(private readonly pool: Pool) {}

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
