import { uuidv7 } from '../common/ids.js';
import { hedgeProto } from '../common/proto.js';
import type { CommandResult__Output } from '../gen/hedge/v1/CommandResult.js';
import type { DumpLogResult__Output } from '../gen/hedge/v1/DumpLogResult.js';
import type { LogChunk__Output } from '../gen/hedge/v1/LogChunk.js';
import type { SignedQuote } from '../gen/hedge/v1/SignedQuote.js';
import type { Summary__Output } from '../gen/hedge/v1/Summary.js';
import type { CallResult, UnaryMethod } from './replicated-client.js';
import type { TradingSession } from './trading-session.js';

const DAY_TRADING = hedgeProto().DayTrading.service;
/** How long DUMPLOG may take to read the whole log, across every replica it tries. */
const STREAM_LOG_DEADLINE_MS = 10 * 60_000;

type Result = Promise<CallResult<CommandResult__Output>>;

/**
 * The SEng 468 commands for one logged-in user, each a replicated call with a
 * new request id. `transactionNum` is what the audit log files the command under
 * (a workload line's number); 0 lets the server number it.
 */
export class DayTradingSession {
  constructor(readonly session: TradingSession) {}

  private call<Res>(
    method: UnaryMethod<Res>,
    transactionNum: number,
    fields: object,
  ): Promise<CallResult<Res>> {
    return this.session.client.call<Res>(
      method,
      { request_id: uuidv7(), transaction_num: String(transactionNum), ...fields },
      this.session.metadata,
    );
  }

  add(amount: string, transactionNum = 0): Result {
    return this.call(DAY_TRADING.Add, transactionNum, { amount });
  }

  /** `quote` is the feed's signed quote; null when the feed gave none (the command is then refused and logged). */
  quote(symbol: string, quote: SignedQuote | null, transactionNum = 0): Result {
    return this.call(DAY_TRADING.Quote, transactionNum, { symbol, quote });
  }

  buy(symbol: string, amount: string, quote: SignedQuote | null, transactionNum = 0): Result {
    return this.call(DAY_TRADING.Buy, transactionNum, { symbol, amount, quote });
  }

  sell(symbol: string, amount: string, quote: SignedQuote | null, transactionNum = 0): Result {
    return this.call(DAY_TRADING.Sell, transactionNum, { symbol, amount, quote });
  }

  commitBuy(transactionNum = 0): Result {
    return this.call(DAY_TRADING.CommitBuy, transactionNum, {});
  }

  cancelBuy(transactionNum = 0): Result {
    return this.call(DAY_TRADING.CancelBuy, transactionNum, {});
  }

  commitSell(transactionNum = 0): Result {
    return this.call(DAY_TRADING.CommitSell, transactionNum, {});
  }

  cancelSell(transactionNum = 0): Result {
    return this.call(DAY_TRADING.CancelSell, transactionNum, {});
  }

  setBuyAmount(symbol: string, amount: string, transactionNum = 0): Result {
    return this.call(DAY_TRADING.SetBuyAmount, transactionNum, { symbol, amount });
  }

  setBuyTrigger(symbol: string, price: string, transactionNum = 0): Result {
    return this.call(DAY_TRADING.SetBuyTrigger, transactionNum, { symbol, price });
  }

  cancelSetBuy(symbol: string, transactionNum = 0): Result {
    return this.call(DAY_TRADING.CancelSetBuy, transactionNum, { symbol });
  }

  setSellAmount(symbol: string, amount: string, transactionNum = 0): Result {
    return this.call(DAY_TRADING.SetSellAmount, transactionNum, { symbol, amount });
  }

  setSellTrigger(symbol: string, price: string, transactionNum = 0): Result {
    return this.call(DAY_TRADING.SetSellTrigger, transactionNum, { symbol, price });
  }

  cancelSetSell(symbol: string, transactionNum = 0): Result {
    return this.call(DAY_TRADING.CancelSetSell, transactionNum, { symbol });
  }

  displaySummary(transactionNum = 0): Promise<CallResult<Summary__Output>> {
    return this.call(DAY_TRADING.DisplaySummary, transactionNum, {});
  }

  /**
   * DUMPLOG: logs the command (once, replicated like every command), then reads
   * the XML from one replica at a time, resuming on another after the last event
   * received if a replica fails mid-stream. `sink` gets the XML in order.
   */
  async dumpLog(
    filename: string,
    wholeLog: boolean,
    transactionNum: number,
    sink: (xml: string) => void | Promise<void>,
  ): Promise<CallResult<DumpLogResult__Output>> {
    const result = await this.call<DumpLogResult__Output>(DAY_TRADING.DumpLog, transactionNum, {
      filename,
      whole_log: wholeLog,
    });
    await this.session.client.readStream<LogChunk__Output>(
      {
        method: DAY_TRADING.StreamLog,
        request: (last) => ({
          upto_event_id: result.response.upto_event_id,
          after_event_id: last?.last_event_id ?? '0',
          whole_log: wholeLog,
        }),
        metadata: this.session.metadata,
        take: (chunk) => sink(chunk.xml),
        // Had the replica failed after this chunk, resuming would append a second footer.
        isLast: (chunk) => chunk.last,
      },
      STREAM_LOG_DEADLINE_MS,
    );
    return result;
  }
}
