import { status } from '@grpc/grpc-js';
import { HedgeError } from '../common/errors.js';

/** The operations execute_request dispatches (dispatch_op in sql/execution.sql). */
export type Operation =
  | 'register'
  | 'login'
  | 'logout'
  | 'deposit'
  | 'buy'
  | 'sell'
  // The SEng 468 day-trading commands (sql/day_trading.sql).
  | 'add'
  | 'quote'
  | 'order_buy'
  | 'order_sell'
  | 'commit_buy'
  | 'cancel_buy'
  | 'commit_sell'
  | 'cancel_sell'
  | 'set_buy_amount'
  | 'set_sell_amount'
  | 'set_buy_trigger'
  | 'set_sell_trigger'
  | 'cancel_set_buy'
  | 'cancel_set_sell'
  | 'display_summary'
  | 'dump_log'
  | 'refuse';

/**
 * A request's parameters as they travel to SQL: money and shares as decimal
 * strings (bigint is not JSON, and a float must never carry money), so the type
 * admits no bigint and no replacer is needed on the hot path.
 */
export type Params = { [key: string]: string | number | boolean | null | Params };

export const toJson = (value: Params): string => JSON.stringify(value);

/** An op_result (migrations/002_execution.sql), as an operation or a read answers. */
export interface OpRow {
  status: number;
  reason: string | null;
  message: string | null;
  body: unknown;
}

/**
 * The status an operation's SQL named (grpc_failed_precondition() and the others
 * of sql/vocabulary.sql) as the gRPC status of that name; a number gRPC does not
 * name is a bug, not an answer.
 */
function statusFromSql(code: number): status {
  const name = status[code] as keyof typeof status | undefined;
  if (name === undefined)
    throw new Error(`the database answered with status ${code}, which gRPC does not name`);
  return status[name];
}

/** The answer's body, or its refusal thrown as the HedgeError it names. */
export function unwrap<T>(row: OpRow | undefined): T {
  if (!row) throw new Error('execute_request returned no row');
  const code = statusFromSql(row.status);
  if (code !== status.OK) {
    throw new HedgeError(code, row.reason ?? 'UNKNOWN', row.message ?? 'request refused');
  }
  return row.body as T;
}
