import { execFile } from 'node:child_process';
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { verifyPassword } from '../src/common/passwords.js';
import { CLI_PATH, makeTempDataDir } from '../src/common/paths.js';
import { useTestDatabase } from './support/database.js';

const run = promisify(execFile);

describe('hedge admin (the administrator where no hedge up makes it)', () => {
  const db = useTestDatabase();
  const dataDir = makeTempDataDir('hedge-admin-');
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  const admin = (...args: string[]) =>
    run(process.execPath, [CLI_PATH, 'admin', '--data-dir', dataDir, ...args], {
      env: { ...process.env, DATABASE_URL: db.url },
      encoding: 'utf8',
    });
  /** Whether `password` signs `admin` in: checked against the stored hash, as a replica checks it. */
  const signsIn = async (password: string) => {
    const { rows } = await db.pool.query<{
      password_params: string;
      password_salt: Buffer;
      password_hash: Buffer;
      is_admin: boolean;
    }>('SELECT password_params, password_salt, password_hash, is_admin FROM users WHERE username = $1', [
      'admin',
    ]);
    const row = rows[0];
    if (!row?.is_admin) return false;
    return verifyPassword(password, {
      params: row.password_params,
      salt: row.password_salt,
      hash: row.password_hash,
    });
  };

  it('makes the account with a random password in <data-dir>/admin-password (0600), keeps it on a second run, and --reset replaces it', async () => {
    const file = join(dataDir, 'admin-password');
    const first = await admin();
    expect(first.stdout).toBe(`administrator admin: password in ${file}\n`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const password = readFileSync(file, 'utf8').trim();
    expect(password.length).toBeGreaterThanOrEqual(24);
    expect(await signsIn(password)).toBe(true);

    await admin();
    expect(readFileSync(file, 'utf8').trim()).toBe(password);
    expect(await signsIn(password)).toBe(true);

    const reset = await admin('--reset');
    expect(reset.stdout).toBe(`administrator admin: new password in ${file}\n`);
    const renewed = readFileSync(file, 'utf8').trim();
    expect(renewed).not.toBe(password);
    expect(await signsIn(renewed)).toBe(true);
    expect(await signsIn(password)).toBe(false);
  });

  it('--password-file sets the password a person chose; without a database it fails saying so and changes nothing', async () => {
    const chosen = join(dataDir, 'chosen');
    writeFileSync(chosen, 'a password an operator chose\n', { mode: 0o600 });
    await admin('--password-file', chosen);
    expect(await signsIn('a password an operator chose')).toBe(true);

    const kept = readFileSync(join(dataDir, 'admin-password'), 'utf8');
    const refused = await run(process.execPath, [CLI_PATH, 'admin', '--data-dir', dataDir, '--reset'], {
      env: { ...process.env, DATABASE_URL: 'postgres://hedge:x@127.0.0.1:1/hedge' },
      encoding: 'utf8',
    }).then(
      () => undefined,
      (err: { code: number; stderr: string }) => err,
    );
    expect(refused?.code).toBe(1);
    expect(refused?.stderr).toMatch(/^hedge: /);
    // Nothing was reset: the file keeps its password, the account the one it had.
    expect(readFileSync(join(dataDir, 'admin-password'), 'utf8')).toBe(kept);
    expect(await signsIn('a password an operator chose')).toBe(true);
  });
});
