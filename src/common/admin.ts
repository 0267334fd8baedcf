import { join } from 'node:path';
import type { Pool } from './database.js';
import { hashPassword } from './passwords.js';
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
 */
export async function ensureAdministrator(
  pool: Pool,
  dataDir: string,
  passwordFile = adminPasswordPath(dataDir),
): Promise<{ username: string; passwordFile: string }> {
  const hash = await hashPassword(readOrCreateSecret(passwordFile, 24));
  await pool.query(
    `INSERT INTO users (username, password_params, password_salt, password_hash, is_admin)
     VALUES ($1, $2, $3, $4, true)
     ON CONFLICT (username) DO UPDATE
       SET password_params = excluded.password_params, password_salt = excluded.password_salt,
           password_hash = excluded.password_hash, is_admin = true`,
    [ADMIN_USERNAME, hash.params, hash.salt, hash.hash],
  );
  return { username: ADMIN_USERNAME, passwordFile };
}
