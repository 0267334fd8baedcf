import { describe, expect, it } from 'vitest';
import { uuidv7 } from '../src/common/ids.js';
import { createLogger } from '../src/common/logger.js';
import { startPeriodicJob } from '../src/replica/periodic-job.js';
import { reaperJob } from '../src/replica/reaper.js';
import { useTestDatabase } from './support/database.js';

describe('the request-log reaper', () => {
  const db = useTestDatabase();

  it('deletes stored responses and sessions past the retention window, and nothing newer', async () => {
    const old = uuidv7();
    const recent = uuidv7();
    await db.pool.query(
      `INSERT INTO request_log (request_id, fingerprint, op, replica_id, status, created_at)
       VALUES ($1, '\\x00', 'deposit', 'r', 0, now() - interval '25 hours'),
              ($2, '\\x00', 'deposit', 'r', 0, now() - interval '23 hours')`,
      [old, recent],
    );
    await db.pool.query(
      `INSERT INTO users (username, password_params, password_salt, password_hash) VALUES ('reaped', 'x', '\\x00', '\\x00')`,
    );
    await db.pool.query(
      `INSERT INTO sessions (token_hash, user_id, expires_at) SELECT '\\x01'::bytea, id, now() - interval '25 hours' FROM users WHERE username = 'reaped'
       UNION ALL SELECT '\\x02'::bytea, id, now() - interval '1 hour' FROM users WHERE username = 'reaped'`,
    );
    const log = createLogger('reaper');
    const reaper = startPeriodicJob(db.pool, reaperJob(24 * 3_600_000, log), 50, log);
    try {
      const deadline = Date.now() + 10_000;
      while ((await db.pool.query('SELECT 1 FROM request_log WHERE request_id = $1', [old])).rowCount !== 0) {
        if (Date.now() > deadline) throw new Error('the reaper never ran');
        await new Promise((r) => setTimeout(r, 50));
      }
      await new Promise((r) => setTimeout(r, 200));
    } finally {
      reaper.stop();
    }
    expect((await db.pool.query('SELECT request_id FROM request_log')).rows.map((r) => r.request_id)).toEqual(
      [recent],
    );
    expect(
      (await db.pool.query('SELECT token_hash FROM sessions')).rows.map((r) => r.token_hash.toString('hex')),
    ).toEqual(['02']);
  });
});
