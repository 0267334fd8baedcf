import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import type { Operation } from '../src/replica/operation.js';
import { useTestDatabase } from './support/database.js';

/**
 * Every Operation of the replica's union, once: the type makes this list exactly
 * the union (a member left out, or one the union lacks, fails the type check).
 */
const OPERATIONS: Record<Operation, true> = {
  register: true,
  login: true,
  logout: true,
  deposit: true,
  buy: true,
  sell: true,
  add: true,
  quote: true,
  order_buy: true,
  order_sell: true,
  commit_buy: true,
  cancel_buy: true,
  commit_sell: true,
  cancel_sell: true,
  set_buy_amount: true,
  set_sell_amount: true,
  set_buy_trigger: true,
  set_sell_trigger: true,
  cancel_set_buy: true,
  cancel_set_sell: true,
  display_summary: true,
  dump_log: true,
  refuse: true,
};

/** SQLSTATEs of an operation dispatch_op does not know: no CASE branch, or a branch calling no function. */
const UNDISPATCHED = { case_not_found: '20000', undefined_function: '42883' };

describe('dispatch_op', () => {
  const db = useTestDatabase();

  /** The SQLSTATE dispatching `op` with empty parameters raised, or null; nothing it did is kept. */
  async function dispatch(op: string): Promise<string | null> {
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(
        `SELECT dispatch_op($1, ROW(gen_random_uuid(), NULL, NULL, 'test', 1)::request_context, '{}', '{}', NULL)`,
        [op],
      );
      return null;
    } catch (err) {
      return (err as { code?: string }).code ?? 'none';
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
  }

  it('runs every Operation of the TypeScript union, and knows no other', async () => {
    const operations = Object.keys(OPERATIONS);
    const failures: Record<string, string | null> = {};
    for (const op of operations) failures[op] = await dispatch(op);
    // Empty parameters make most operations fail, but inside the operation, not at the dispatch.
    const undispatched = Object.entries(failures).filter(([, code]) =>
      Object.values(UNDISPATCHED).includes(code ?? ''),
    );
    expect(undispatched).toEqual([]);
    expect(await dispatch('no_such_operation')).toBe(UNDISPATCHED.case_not_found);

    const { rows } = await db.pool.query<{ src: string }>(
      "SELECT prosrc AS src FROM pg_proc WHERE proname = 'dispatch_op'",
    );
    const branches = [...(rows[0]?.src ?? '').matchAll(/WHEN '(\w+)' THEN/g)].map((m) => m[1]);
    expect([...branches].sort()).toEqual([...operations].sort());
  });

  it("names each gRPC status it answers with by grpc-js's number for that name", async () => {
    const { rows } = await db.pool.query<{ name: string }>(
      "SELECT proname AS name FROM pg_proc WHERE proname LIKE 'grpc\\_%' AND pronamespace = current_schema()::regnamespace",
    );
    expect(rows.length).toBeGreaterThan(0);
    for (const { name } of rows) {
      const grpcName = name.slice('grpc_'.length).toUpperCase() as keyof typeof status;
      const { rows: value } = await db.pool.query<{ code: number }>(`SELECT ${name}() AS code`);
      expect({ name, code: value[0]?.code }).toEqual({ name, code: status[grpcName] });
    }
  });
});
