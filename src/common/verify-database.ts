import type { Pool } from './database.js';

export interface Violation {
  check: string;
  /** How many rows break it. */
  count: number;
  /** A few of them, for a person to look at. */
  examples: Record<string, unknown>[];
}

export interface VerifyReport {
  requests: number;
  effects: number;
  duplicate_effects: number;
  violations: Violation[];
}

const EXAMPLES = 10;

/**
 * Each check is a query for the rows that break an invariant. An effect is one
 * transaction's ledger entries under one request id: a request executed twice
 * leaves two.
 */
const CHECKS: { check: string; sql: string; duplicate?: true }[] = [
  {
    check: 'a request id with more than one effect',
    duplicate: true,
    sql: `SELECT request_id, count(DISTINCT xid)::int AS effects FROM ledger
          GROUP BY request_id HAVING count(DISTINCT xid) > 1`,
  },
  {
    check: 'a request id with more than one trade',
    duplicate: true,
    sql: `SELECT request_id, count(*)::int AS trades FROM trades GROUP BY request_id HAVING count(*) > 1`,
  },
  {
    check: 'cash or reserved cash that the ledger does not reproduce',
    sql: `SELECT coalesce(a.user_id, l.user_id) AS user_id, a.cash, l.cash AS ledger_cash,
                 a.reserved_cash, l.reserved_cash AS ledger_reserved_cash
          FROM accounts a
          FULL JOIN (SELECT user_id, sum(cash_delta) AS cash, sum(reserved_cash_delta) AS reserved_cash
                     FROM ledger GROUP BY user_id) l ON l.user_id = a.user_id
          WHERE coalesce(a.cash, 0) <> coalesce(l.cash, 0) OR coalesce(a.reserved_cash, 0) <> coalesce(l.reserved_cash, 0)`,
  },
  {
    check: 'shares or reserved shares that the ledger does not reproduce',
    sql: `SELECT coalesce(h.user_id, l.user_id) AS user_id, coalesce(h.symbol, l.symbol) AS symbol,
                 h.shares, l.shares AS ledger_shares, h.reserved_shares, l.reserved_shares AS ledger_reserved_shares
          FROM holdings h
          FULL JOIN (SELECT user_id, symbol, sum(shares_delta) AS shares, sum(reserved_shares_delta) AS reserved_shares
                     FROM ledger WHERE symbol IS NOT NULL GROUP BY user_id, symbol) l
            ON l.user_id = h.user_id AND l.symbol = h.symbol
          WHERE coalesce(h.shares, 0) <> coalesce(l.shares, 0)
             OR coalesce(h.reserved_shares, 0) <> coalesce(l.reserved_shares, 0)`,
  },
  {
    check: 'a negative balance, reserve or holding',
    sql: `SELECT 'account' AS kind, user_id, NULL AS symbol FROM accounts WHERE cash < 0 OR reserved_cash < 0
          UNION ALL
          SELECT 'holding', user_id, symbol FROM holdings WHERE shares < 0 OR reserved_shares < 0`,
  },
  {
    check: 'a trade without its ledger entry',
    sql: `SELECT t.id, t.request_id FROM trades t
          WHERE NOT EXISTS (SELECT 1 FROM ledger l WHERE l.request_id = t.request_id AND l.kind = t.side)`,
  },
  {
    // A trade may spend cash that was reserved (COMMIT_BUY, a buy trigger) and sell
    // shares that were reserved: what must match its total is free plus reserved.
    check: 'a trade whose cash or shares movement differs from its total',
    sql: `SELECT t.id, t.request_id, t.total_cents, l.cash, l.shares FROM trades t
          JOIN (SELECT request_id, kind, sum(cash_delta + reserved_cash_delta) AS cash,
                       sum(shares_delta + reserved_shares_delta) AS shares
                FROM ledger GROUP BY request_id, kind) l ON l.request_id = t.request_id AND l.kind = t.side
          WHERE l.cash <> CASE t.side WHEN 'buy' THEN -t.total_cents ELSE t.total_cents END
             OR l.shares <> CASE t.side WHEN 'buy' THEN t.shares ELSE -t.shares END`,
  },
  {
    check: 'reserved cash that open orders and buy triggers do not account for',
    sql: `SELECT a.user_id, a.reserved_cash, coalesce(o.cash, 0) + coalesce(t.cash, 0) AS held_for
          FROM accounts a
          LEFT JOIN (SELECT user_id, sum(shares * price_cents) AS cash FROM pending_orders
                     WHERE state = 'pending' AND side = 'buy' GROUP BY user_id) o ON o.user_id = a.user_id
          LEFT JOIN (SELECT user_id, sum(amount_cents) AS cash FROM triggers
                     WHERE state IN ('set', 'armed') AND side = 'buy' GROUP BY user_id) t ON t.user_id = a.user_id
          WHERE a.reserved_cash <> coalesce(o.cash, 0) + coalesce(t.cash, 0)`,
  },
  {
    check: 'reserved shares that open orders and sell triggers do not account for',
    sql: `SELECT h.user_id, h.symbol, h.reserved_shares, coalesce(o.shares, 0) + coalesce(t.shares, 0) AS held_for
          FROM holdings h
          LEFT JOIN (SELECT user_id, symbol, sum(shares) AS shares FROM pending_orders
                     WHERE state = 'pending' AND side = 'sell' GROUP BY user_id, symbol) o
            ON o.user_id = h.user_id AND o.symbol = h.symbol
          LEFT JOIN (SELECT user_id, symbol, sum(reserved_shares) AS shares FROM triggers
                     WHERE state IN ('set', 'armed') AND side = 'sell' GROUP BY user_id, symbol) t
            ON t.user_id = h.user_id AND t.symbol = h.symbol
          WHERE h.reserved_shares <> coalesce(o.shares, 0) + coalesce(t.shares, 0)`,
  },
  {
    check: 'an acknowledged command that moves money without its effect',
    sql: `SELECT r.request_id, r.op FROM request_log r
          WHERE r.status = 0
            AND r.op IN ('buy', 'sell', 'deposit', 'add', 'order_buy', 'order_sell', 'commit_buy', 'cancel_buy',
                         'commit_sell', 'cancel_sell', 'cancel_set_buy')
            AND NOT EXISTS (SELECT 1 FROM ledger l WHERE l.request_id = r.request_id)`,
  },
];

/** Checks the database after any run; read-only, in one repeatable-read snapshot. */
export async function verifyDatabase(pool: Pool): Promise<VerifyReport> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const counts = await client.query<{ requests: number; effects: number }>(
      `SELECT (SELECT count(*)::int FROM request_log) AS requests,
              (SELECT count(*)::int FROM (SELECT DISTINCT request_id, xid FROM ledger) e) AS effects`,
    );
    const violations: Violation[] = [];
    const duplicates = new Set<string>();
    for (const { check, sql, duplicate } of CHECKS) {
      const { rows } = await client.query(sql);
      if (rows.length === 0) continue;
      violations.push({ check, count: rows.length, examples: rows.slice(0, EXAMPLES) });
      if (duplicate) for (const r of rows) duplicates.add(String(r.request_id));
    }
    await client.query('COMMIT');
    client.release();
    return {
      requests: counts.rows[0]?.requests ?? 0,
      effects: counts.rows[0]?.effects ?? 0,
      duplicate_effects: duplicates.size,
      violations,
    };
  } catch (err) {
    // A connection left inside the failed transaction must not go back to the pool.
    client.release(err as Error);
    throw err;
  }
}

export function formatReport(report: VerifyReport): string {
  const lines = [
    `requests ${report.requests} · effects ${report.effects} · duplicate effects ${report.duplicate_effects}`,
  ];
  if (report.violations.length === 0) {
    lines.push(
      'OK: every request has at most one effect, and the ledger reproduces every balance and holding.',
    );
  }
  for (const v of report.violations) {
    lines.push(`VIOLATION: ${v.check} (${v.count})`);
    for (const e of v.examples) lines.push(`  ${JSON.stringify(e)}`);
  }
  return `${lines.join('\n')}\n`;
}
