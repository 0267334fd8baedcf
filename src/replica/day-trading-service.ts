import { type ServerUnaryCall, type ServerWritableStream, status } from '@grpc/grpc-js';
import { HedgeError, invalidArgument, unauthenticated } from '../common/errors.js';
import { serverStream } from '../common/grpc-handlers.js';
import { isPositiveInteger, parseAmount, quoteInput } from '../common/money.js';
import { defaultOf, ORDER_TTL } from '../common/settings.js';
import { isSymbol, parseSymbol, SENG468_SYMBOL_LENGTH } from '../common/symbols.js';
import type { AddCommand__Output } from '../gen/hedge/v1/AddCommand.js';
import type { CommandResult } from '../gen/hedge/v1/CommandResult.js';
import type { DayTradingHandlers } from '../gen/hedge/v1/DayTrading.js';
import type { DumpLogCommand__Output } from '../gen/hedge/v1/DumpLogCommand.js';
import type { DumpLogResult } from '../gen/hedge/v1/DumpLogResult.js';
import type { LogChunk } from '../gen/hedge/v1/LogChunk.js';
import type { OrderCommand__Output } from '../gen/hedge/v1/OrderCommand.js';
import type { QuoteCommand__Output } from '../gen/hedge/v1/QuoteCommand.js';
import type { StreamLogRequest__Output } from '../gen/hedge/v1/StreamLogRequest.js';
import type { Summary } from '../gen/hedge/v1/Summary.js';
import type { SymbolCommand__Output } from '../gen/hedge/v1/SymbolCommand.js';
import type { TriggerAmountCommand__Output } from '../gen/hedge/v1/TriggerAmountCommand.js';
import type { TriggerPriceCommand__Output } from '../gen/hedge/v1/TriggerPriceCommand.js';
import type { UserCommand__Output } from '../gen/hedge/v1/UserCommand.js';
import { eventXml, LOG_FOOTER, LOG_HEADER } from './audit-xml.js';
import { replicaHandler } from './call-handler.js';
import { callOrigin } from './call-origin.js';
import { sessionTokenHash } from './credentials.js';
import type { Operation, Params } from './operation.js';
import { quoteParams } from './quote-verifier.js';
import type { TradingDeps } from './trading-service.js';
import { parseRequestId } from './validation.js';

/** Every day-trading command carries these. */
interface CommandRequest {
  request_id: string;
  transaction_num: string;
}

/** What a refused command's userCommand still records of its input. */
interface Loggable {
  symbol?: string;
  funds_cents?: string;
  filename?: string;
}

const SIGNED_DECIMAL = /^-?(0|[1-9][0-9]{0,15})(\.[0-9]{1,2})?$/;
const LOG_CHUNK_EVENTS = 2_000;
/** Audit writers are trading transactions of milliseconds; one open longer than this is not waited for. */
const AUDIT_WRITERS_WAIT_MS = 5_000;
const MAX_FILENAME = 255;

function transactionNum(text: string): string | undefined {
  if (text === '0') return undefined;
  if (!isPositiveInteger(text)) {
    throw invalidArgument(
      'INVALID_TRANSACTION_NUM',
      `transaction_num must be a positive whole number; got ${quoteInput(text)}`,
      'transaction_num',
    );
  }
  return text;
}

/** The amount as logged with a refused command: cents if it reads as a (possibly negative) decimal. */
function loggedFunds(text: string): string | undefined {
  if (!SIGNED_DECIMAL.test(text)) return undefined;
  const negative = text.startsWith('-');
  const [whole = '0', fraction = ''] = text.replace('-', '').split('.');
  const cents = BigInt(whole) * 100n + BigInt(fraction.padEnd(2, '0'));
  return (negative ? -cents : cents).toString();
}

/** A symbol the audit log can hold: the course's, at most 3 characters (hedge's own may have 8). */
function daySymbol(text: string): string {
  return parseSymbol(text, 'symbol', SENG468_SYMBOL_LENGTH);
}

/** A symbol as logged with a refused command, if it can be logged at all. */
function loggedSymbol(text: string): string | undefined {
  return isSymbol(text, SENG468_SYMBOL_LENGTH) ? text : undefined;
}

function parseFilename(text: string): string {
  // Printable: no control characters (code points below 0x20, and 0x7f).
  if (text.length === 0 || text.length > MAX_FILENAME || [...text].some((c) => c < ' ' || c === '\x7f')) {
    throw invalidArgument(
      'INVALID_FILENAME',
      `filename must be 1 to ${MAX_FILENAME} printable characters`,
      'filename',
    );
  }
  return text;
}

/**
 * The SEng 468 commands. Each one parses its input, then runs as one request
 * through the executor. A command refused for its input is still a command: it
 * is run as the `refuse` operation, which logs its userCommand and errorEvent
 * exactly once and changes nothing else, and the caller gets the same error.
 */
export function dayTradingHandlers(deps: TradingDeps): DayTradingHandlers {
  const { executor, accounts, audit, quotes } = deps;
  const handler = replicaHandler(deps.log, deps.beforeCall, deps.sessionRate);
  const orderWindow = { order_ttl_ms: String(deps.orderTtlMs ?? defaultOf(ORDER_TTL)) };

  function command<Req extends CommandRequest, Res>(
    name: string,
    logName: string,
    op: Operation,
    parse: (req: Req) => Params = () => ({}),
    loggable: (req: Req) => Loggable = () => ({}),
  ) {
    return handler<Req, Res>(name, async (call: ServerUnaryCall<Req, Res>) => {
      const requestId = parseRequestId(call.request.request_id);
      const tokenHash = sessionTokenHash(call.metadata);
      const txn = transactionNum(call.request.transaction_num);
      const origin = callOrigin(call.metadata);
      const base: Params = txn ? { transaction_num: txn } : {};
      let params: Params;
      try {
        params = parse(call.request);
      } catch (err) {
        if (!(err instanceof HedgeError) || err.code !== status.INVALID_ARGUMENT) throw err;
        const logged = Object.fromEntries(
          Object.entries(loggable(call.request)).filter(([, v]) => v !== undefined),
        );
        const refusal = err;
        return executor
          .execute<Res>(
            'refuse',
            requestId,
            tokenHash,
            {
              ...base,
              command: logName,
              ...logged,
              status: String(refusal.code),
              reason: refusal.reason,
              message: refusal.message,
            },
            {},
            origin,
          )
          .catch((stored: unknown) => {
            // The stored refusal is this input's (a copy is the same request, so
            // it fails the same way): it names the same field.
            if (stored instanceof HedgeError && stored.reason === refusal.reason) {
              throw new HedgeError(stored.code, stored.reason, stored.message, refusal.field);
            }
            throw stored;
          });
      }
      return executor.execute<Res>(op, requestId, tokenHash, { ...base, ...params }, orderWindow, origin);
    });
  }

  const symbolOnly = (req: { symbol: string }) => ({ symbol: daySymbol(req.symbol) });
  const logSymbol = (req: { symbol: string }) => ({ symbol: loggedSymbol(req.symbol) });
  const symbolAmount = (req: { symbol: string; amount: string }) => ({
    symbol: daySymbol(req.symbol),
    amount_cents: parseAmount(req.amount).toString(),
  });
  const logSymbolAmount = (req: { symbol: string; amount: string }) => ({
    symbol: loggedSymbol(req.symbol),
    funds_cents: loggedFunds(req.amount),
  });
  const symbolPrice = (req: { symbol: string; price: string }) => ({
    symbol: daySymbol(req.symbol),
    price_cents: parseAmount(req.price, 'price').toString(),
  });
  const logSymbolPrice = (req: { symbol: string; price: string }) => ({
    symbol: loggedSymbol(req.symbol),
    funds_cents: loggedFunds(req.price),
  });
  const order = (req: OrderCommand__Output) => {
    const symbol = daySymbol(req.symbol);
    return {
      symbol,
      amount_cents: parseAmount(req.amount).toString(),
      quote: quoteParams(quotes.verifyFor(symbol, req.quote)),
    };
  };

  return {
    Add: command<AddCommand__Output, CommandResult>(
      'Add',
      'ADD',
      'add',
      (req) => ({ amount_cents: parseAmount(req.amount).toString() }),
      (req) => ({
        funds_cents: loggedFunds(req.amount),
      }),
    ),
    Quote: command<QuoteCommand__Output, CommandResult>(
      'Quote',
      'QUOTE',
      'quote',
      (req) => {
        const symbol = daySymbol(req.symbol);
        return { symbol, quote: quoteParams(quotes.verifyFor(symbol, req.quote)) };
      },
      logSymbol,
    ),
    Buy: command<OrderCommand__Output, CommandResult>('Buy', 'BUY', 'order_buy', order, logSymbolAmount),
    CommitBuy: command<UserCommand__Output, CommandResult>('CommitBuy', 'COMMIT_BUY', 'commit_buy'),
    CancelBuy: command<UserCommand__Output, CommandResult>('CancelBuy', 'CANCEL_BUY', 'cancel_buy'),
    Sell: command<OrderCommand__Output, CommandResult>('Sell', 'SELL', 'order_sell', order, logSymbolAmount),
    CommitSell: command<UserCommand__Output, CommandResult>('CommitSell', 'COMMIT_SELL', 'commit_sell'),
    CancelSell: command<UserCommand__Output, CommandResult>('CancelSell', 'CANCEL_SELL', 'cancel_sell'),
    SetBuyAmount: command<TriggerAmountCommand__Output, CommandResult>(
      'SetBuyAmount',
      'SET_BUY_AMOUNT',
      'set_buy_amount',
      symbolAmount,
      logSymbolAmount,
    ),
    SetBuyTrigger: command<TriggerPriceCommand__Output, CommandResult>(
      'SetBuyTrigger',
      'SET_BUY_TRIGGER',
      'set_buy_trigger',
      symbolPrice,
      logSymbolPrice,
    ),
    CancelSetBuy: command<SymbolCommand__Output, CommandResult>(
      'CancelSetBuy',
      'CANCEL_SET_BUY',
      'cancel_set_buy',
      symbolOnly,
      logSymbol,
    ),
    SetSellAmount: command<TriggerAmountCommand__Output, CommandResult>(
      'SetSellAmount',
      'SET_SELL_AMOUNT',
      'set_sell_amount',
      symbolAmount,
      logSymbolAmount,
    ),
    SetSellTrigger: command<TriggerPriceCommand__Output, CommandResult>(
      'SetSellTrigger',
      'SET_SELL_TRIGGER',
      'set_sell_trigger',
      symbolPrice,
      logSymbolPrice,
    ),
    CancelSetSell: command<SymbolCommand__Output, CommandResult>(
      'CancelSetSell',
      'CANCEL_SET_SELL',
      'cancel_set_sell',
      symbolOnly,
      logSymbol,
    ),
    DisplaySummary: command<UserCommand__Output, Summary>(
      'DisplaySummary',
      'DISPLAY_SUMMARY',
      'display_summary',
    ),
    DumpLog: command<DumpLogCommand__Output, DumpLogResult>(
      'DumpLog',
      'DUMPLOG',
      'dump_log',
      (req) => ({ filename: parseFilename(req.filename), whole_log: req.whole_log }),
      (req) => ({ filename: req.filename.length <= MAX_FILENAME ? req.filename : undefined }),
    ),
    StreamLog: serverStream(deps.log, 'StreamLog', streamLog),
  };

  /** The log as XML chunks of up to 2,000 events; the first with the header, the last with the footer. */
  async function streamLog(call: ServerWritableStream<StreamLogRequest__Output, LogChunk>): Promise<void> {
    const user = await accounts.sessionUser(sessionTokenHash(call.metadata));
    if (!user)
      throw unauthenticated(
        'SESSION_INVALID',
        'the session token is not valid or has expired; log in, then send the request again with a new request id',
      );
    const { whole_log: whole } = call.request;
    if (whole && !user.isAdmin) {
      throw new HedgeError(
        status.PERMISSION_DENIED,
        'NOT_ADMINISTRATOR',
        'only an administrator may read the whole log',
      );
    }
    const upto = BigInt(call.request.upto_event_id);
    if (!(await audit.awaitAuditWriters(AUDIT_WRITERS_WAIT_MS))) {
      throw new HedgeError(
        status.UNAVAILABLE,
        'AUDIT_LOG_BUSY',
        'a transaction writing to the audit log is still open; try again',
      );
    }
    let after = BigInt(call.request.after_event_id);
    let xml = after === 0n ? LOG_HEADER : '';
    for (;;) {
      if (call.cancelled) return;
      const events = await audit.auditEvents(after, upto, whole ? null : user.userId, LOG_CHUNK_EVENTS);
      for (const e of events) xml += eventXml(e);
      if (events.length > 0) after = BigInt((events[events.length - 1] as { id: string }).id);
      const done = events.length < LOG_CHUNK_EVENTS;
      if (done) xml += LOG_FOOTER;
      const written = call.write({ xml, last_event_id: after.toString(), last: done });
      xml = '';
      if (done) break;
      if (!written) await new Promise((resolve) => call.once('drain', resolve));
    }
    call.end();
  }
}
