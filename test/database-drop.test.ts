import { afterAll, beforeAll, expect, it } from 'vitest';
import { createPool, isTransientDatabaseError, type Pool } from '../src/common/database.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';

let db: TestDatabase;
let pool: Pool;
beforeAll(async () => {
  db = await createTestDatabase();
  pool = createPool(db.url, { max: 2 });
});
afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

// A replica holding a connection (a transaction, a periodic job) when PostgreSQL
// dies must see its queries fail, not die of an 'error' event nobody heard (the
// test runner counts such an event as an unhandled error and fails the run).
it('a checked-out connection whose server goes away fails its queries and kills nothing', async () => {
  const client = await pool.connect();
  const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  const ended = new Promise((resolve) => client.once('end', resolve));
  await db.pool.query('SELECT pg_terminate_backend($1)', [rows[0]?.pid]);
  await ended;
  const err = await client.query('SELECT 1').then(
    () => undefined,
    (e: unknown) => e,
  );
  client.release(true);
  expect(isTransientDatabaseError(err)).toBe(true);
  // The pool goes on with a new connection.
  expect((await pool.query<{ one: number }>('SELECT 1 AS one')).rows[0]?.one).toBe(1);
});
