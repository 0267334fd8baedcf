import { setTimeout as delay } from 'node:timers/promises';
import { type ClientReadableStream, type ServiceError, type StatusObject, status } from '@grpc/grpc-js';
import { isInfrastructureFailure } from '../common/errors.js';
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
    const upto = result.response.upto_event_id;
    let after = '0';
    let done = false;
    const deadline = Date.now() + 10 * 60_000;
    for (let attempt = 0; !done; attempt++) {
      const members = this.session.client.currentView.members;
      const member = members[attempt % Math.max(members.length, 1)];
      if (!member || Date.now() > deadline) throw new Error('no replica could stream the log');
      try {
        await new Promise<void>((resolve, reject) => {
          const method = DAY_TRADING.StreamLog;
          const stream: ClientReadableStream<LogChunk__Output> = this.session.client
            .channelFor(member)
            .makeServerStreamRequest(
              method.path,
              method.requestSerialize,
              method.responseDeserialize,
              { upto_event_id: upto, after_event_id: after, whole_log: wholeLog },
              this.session.metadata,
              { deadline: new Date(deadline) },
            );
          let writing = Promise.resolve();
          let failure: ServiceError | undefined;
          stream.on('data', (chunk: LogChunk__Output) => {
            after = chunk.last_event_id;
            writing = writing.then(() => sink(chunk.xml));
            // Had the replica failed after this chunk, resuming would append a second footer.
            if (chunk.last) done = true;
          });
          // 'end' comes for a failed stream too: only the status tells a whole stream from a broken one.
          stream.on('error', (err: ServiceError) => {
            failure = err;
          });
          stream.on('status', (s: StatusObject) => {
            if (s.code === status.OK) done = true;
            writing.then(
              () => (done ? resolve() : reject(failure ?? Object.assign(new Error(s.details), s))),
              reject,
            );
          });
        });
      } catch (err) {
        const code = (err as ServiceError).code;
        if (code === undefined || !isInfrastructureFailure(code)) throw err;
        await delay(100);
      }
    }
    return result;
  }
}
