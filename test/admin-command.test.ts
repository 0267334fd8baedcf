import { execFile } from 'node:child_process';
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Metadata, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uuidv7 } from '../src/common/ids.js';
import { verifyPassword } from '../src/common/passwords.js';
import { CLI_PATH, makeTempDataDir } from '../src/common/paths.js';
import { deadlineAfter, invoke } from '../src/common/rpc.js';
import { newSessionToken } from '../src/common/session-token.js';
import type { LoginResponse__Output } from '../src/gen/hedge/v1/LoginResponse.js';
import type { TradingClient } from '../src/gen/hedge/v1/Trading.js';
import type { RunningReplica } from '../src/replica/run-replica.js';
import { useTestDatabase } from './support/database.js';
import { startTestFeed, type TestFeed } from './support/feed.js';
import { startInProcessReplica } from './support/replicas.js';
import { failureOf, tradingClient } from './support/trader.js';

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

describe("the name admin is the administrator's alone", () => {
  const db = useTestDatabase();
  const dataDir = makeTempDataDir('hedge-admin-');
  let feed: TestFeed;
  let replica: RunningReplica;
  let client: TradingClient;

  beforeAll(async () => {
    feed = await startTestFeed();
    replica = await startInProcessReplica(
      { databaseUrl: db.url, feedPublicKeyPath: feed.publicKeyPath },
      'admin-names',
    );
    client = tradingClient(replica.address);
  });

  afterAll(async () => {
    client?.close();
    await replica?.stop();
    await feed?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const admin = (...args: string[]) =>
    run(process.execPath, [CLI_PATH, 'admin', '--data-dir', dataDir, ...args], {
      env: { ...process.env, DATABASE_URL: db.url },
      encoding: 'utf8',
    });
  const adminRow = async () =>
    (
      await db.pool.query<{ id: string; is_admin: boolean; password_hash: Buffer }>(
        'SELECT id, is_admin, password_hash FROM users WHERE username = $1',
        ['admin'],
      )
    ).rows[0];
  const login = (password: string) =>
    invoke<LoginResponse__Output>((cb) =>
      client.Login(
        { request_id: uuidv7(), username: 'admin', password, session_token: newSessionToken() },
        { deadline: deadlineAfter(20_000) },
        cb,
      ),
    );
  /** Whether a session token still opens the account (the admin's audit log is read through it). */
  const sessionWorks = (token: string) => {
    const metadata = new Metadata();
    metadata.set('authorization', `Bearer ${token}`);
    return invoke((cb) => client.GetPortfolio({}, metadata, { deadline: deadlineAfter(20_000) }, cb)).then(
      () => true,
      (err: { code: number }) => {
        if (err.code !== status.UNAUTHENTICATED) throw err;
        return false;
      },
    );
  };

  it.each(['admin', 'Admin', 'ADMIN'])(
    'Register refuses the name, in any case (%s: PERMISSION_DENIED, USERNAME_RESERVED), and makes no account',
    async (username) => {
      const refused = await failureOf(
        invoke((cb) =>
          client.Register(
            {
              request_id: uuidv7(),
              username,
              password: 'I am the admin now',
              session_token: newSessionToken(),
            },
            { deadline: deadlineAfter(20_000) },
            cb,
          ),
        ),
      );
      expect(refused).toMatchObject({ code: status.PERMISSION_DENIED, reason: 'USERNAME_RESERVED' });
      expect(refused.details).toMatch(/reserved for the administrator/);
      const { rows } = await db.pool.query('SELECT 1 FROM users WHERE lower(username) = $1', ['admin']);
      expect(rows).toEqual([]);
    },
  );

  it('hedge admin refuses to promote a trader already named admin, and changes nothing', async () => {
    // A database from before the name was reserved: a trader holds it, with a live session.
    await db.pool.query(
      `INSERT INTO users (username, password_params, password_salt, password_hash)
       VALUES ('admin', 'scrypt$16384$8$1', '\\x00', '\\x00')`,
    );
    const before = await adminRow();
    await db.pool.query(
      `INSERT INTO sessions (token_hash, user_id, expires_at) VALUES ('\\x01', $1, now() + interval '1 hour')`,
      [before?.id],
    );
    const refused = await admin().then(
      () => undefined,
      (err: { code: number; stderr: string }) => err,
    );
    expect(refused?.code).toBe(1);
    expect(refused?.stderr).toMatch(/a user named admin is registered and is not the administrator/);
    expect(await adminRow()).toEqual(before);
    const sessions = await db.pool.query('SELECT 1 FROM sessions WHERE user_id = $1', [before?.id]);
    expect(sessions.rowCount).toBe(1);
    await db.pool.query('DELETE FROM sessions WHERE user_id = $1', [before?.id]);
    await db.pool.query('DELETE FROM users WHERE id = $1', [before?.id]);
  });

  it("the administrator's sessions outlive a start with the same password and end when it changes", async () => {
    await admin();
    const first = readFileSync(join(dataDir, 'admin-password'), 'utf8').trim();
    const session = (await login(first)).session_token;
    expect(await sessionWorks(session)).toBe(true);

    await admin(); // as every hedge up does
    expect(await sessionWorks(session)).toBe(true);

    await admin('--reset');
    expect(await sessionWorks(session)).toBe(false);
    const renewed = readFileSync(join(dataDir, 'admin-password'), 'utf8').trim();
    expect(await sessionWorks((await login(renewed)).session_token)).toBe(true);
  });
});
