import { join } from 'node:path';
import type { Pool } from './database.js';
import { hashPassword, verifyPassword } from './passwords.js';
import { readOrCreateSecret } from './secret-file.js';

export const ADMIN_USERNAME = 'admin';

export function adminPasswordPath(dataDir: string): string {
  return join(dataDir, 'admin-password');
}

/**
 * The administrator, who alone may dump the whole audit log: a real user named
 * `admin` whose password is made on first start and kept in the data directory
 * (mode 0600). Whoever can read that file is the administrator; the file is the
 * source of truth, so the stored hash is brought in line with it at every start.
 * A trader's account is never promoted (registration refuses the name, but a
 * database from before that rule may hold one): it fails, changing nothing. A
 * changed password ends the account's sessions, which the old one opened.
 */
export async function ensureAdministrator(
  pool: Pool,
  dataDir: string,
  passwordFile = adminPasswordPath(dataDir),
): Promise<{ username: string; passwordFile: string }> {
  const password = readOrCreateSecret(passwordFile, 24);
  const { rows } = await pool.query<StoredAdmin>(
    'SELECT is_admin, password_params, password_salt, password_hash FROM users WHERE username = $1',
    [ADMIN_USERNAME],
  );
  const stored = rows[0];
  if (stored && !stored.is_admin) throw notTheAdministrator();
  // Every `hedge up` comes here: an unchanged password keeps the admin's sessions.
  if (stored && (await verifyPassword(password, storedCredential(stored)))) {
    return { username: ADMIN_USERNAME, passwordFile };
  }
  const hash = await hashPassword(password);
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const updated = await client.query<{ id: string }>(
      `INSERT INTO users (username, password_params, password_salt, password_hash, is_admin)
       VALUES ($1, $2, $3, $4, true)
       ON CONFLICT (username) DO UPDATE
         SET password_params = excluded.password_params, password_salt = excluded.password_salt,
             password_hash = excluded.password_hash
         WHERE users.is_admin
       RETURNING id`,
      [ADMIN_USERNAME, hash.params, hash.salt, hash.hash],
    );
    const id = updated.rows[0]?.id;
    if (id === undefined) throw notTheAdministrator();
    // Expired, not deleted: a late copy of a request the admin made before the change must
    // still find its session and get the stored answer (as op_logout does).
    await client.query('UPDATE sessions SET expires_at = now() WHERE user_id = $1 AND expires_at > now()', [
      id,
    ]);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
  return { username: ADMIN_USERNAME, passwordFile };
}

interface StoredAdmin {
  is_admin: boolean;
  password_params: string;
  password_salt: Buffer;
  password_hash: Buffer;
}

function storedCredential(row: StoredAdmin) {
  return { params: row.password_params, salt: row.password_salt, hash: row.password_hash };
}

function notTheAdministrator(): Error {
  return new Error(
    `a user named ${ADMIN_USERNAME} is registered and is not the administrator; it is not promoted: ` +
      'rename or remove that account in the database, then start again',
  );
}
