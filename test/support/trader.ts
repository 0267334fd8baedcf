import { Metadata, type ServiceError } from '@grpc/grpc-js';
import { reasonOf } from '../../src/common/errors.js';
import { uuidv7 } from '../../src/common/ids.js';
import { hedgeProto } from '../../src/common/proto.js';
import { deadlineAfter, invoke } from '../../src/common/rpc.js';
import { newSessionToken } from '../../src/common/session-token.js';
import type { Account__Output } from '../../src/gen/hedge/v1/Account.js';
import type { ListTradesResponse__Output } from '../../src/gen/hedge/v1/ListTradesResponse.js';
import type { LoginResponse__Output } from '../../src/gen/hedge/v1/LoginResponse.js';
import type { Portfolio__Output } from '../../src/gen/hedge/v1/Portfolio.js';
import type { SignedQuote } from '../../src/gen/hedge/v1/SignedQuote.js';
import type { TradeResponse__Output } from '../../src/gen/hedge/v1/TradeResponse.js';
import type { TradingClient } from '../../src/gen/hedge/v1/Trading.js';
import { channelCredentials } from '../../src/tls/transport.js';

export function tradingClient(address: string): TradingClient {
  return new (hedgeProto().Trading)(address, channelCredentials());
}

const opts = () => ({ deadline: deadlineAfter(10_000) });

let userCounter = 0;
export function uniqueUsername(prefix = 'user'): string {
  userCounter += 1;
  return `${prefix}_${process.pid}_${userCounter}`;
}

/** One user on one replica: register, log in, then trade with the session token. */
export class Trader {
  readonly metadata = new Metadata();

  private constructor(
    readonly client: TradingClient,
    readonly username: string,
    readonly login: LoginResponse__Output,
  ) {
    this.metadata.set('authorization', `Bearer ${login.session_token}`);
  }

  static async open(
    client: TradingClient,
    username = uniqueUsername(),
    password = 'correct horse',
  ): Promise<Trader> {
    await invoke((cb) =>
      client.Register(
        { request_id: uuidv7(), username, password, session_token: newSessionToken() },
        opts(),
        cb,
      ),
    );
    const login = await invoke<LoginResponse__Output>((cb) =>
      client.Login(
        { request_id: uuidv7(), username, password, session_token: newSessionToken() },
        opts(),
        cb,
      ),
    );
    return new Trader(client, username, login);
  }

  /** The same user and session, calling another replica. */
  via(client: TradingClient): Trader {
    return new Trader(client, this.username, this.login);
  }

  deposit(amount: string, requestId = uuidv7()): Promise<Account__Output> {
    return invoke((cb) => this.client.Deposit({ request_id: requestId, amount }, this.metadata, opts(), cb));
  }

  buy(symbol: string, shares: string | number, quote: SignedQuote | null, requestId = uuidv7()) {
    return invoke<TradeResponse__Output>((cb) =>
      this.client.Buy({ request_id: requestId, symbol, shares, quote }, this.metadata, opts(), cb),
    );
  }

  sell(symbol: string, shares: string | number, quote: SignedQuote | null, requestId = uuidv7()) {
    return invoke<TradeResponse__Output>((cb) =>
      this.client.Sell({ request_id: requestId, symbol, shares, quote }, this.metadata, opts(), cb),
    );
  }

  portfolio(): Promise<Portfolio__Output> {
    return invoke((cb) => this.client.GetPortfolio({}, this.metadata, opts(), cb));
  }

  trades(): Promise<ListTradesResponse__Output> {
    return invoke((cb) => this.client.ListTrades({ limit: 1000 }, this.metadata, opts(), cb));
  }
}

export interface CallFailure {
  code: number;
  reason: string | undefined;
  details: string;
}

/** The failure a call ended with; fails the test if it succeeded. */
export async function failureOf(promise: Promise<unknown>): Promise<CallFailure> {
  try {
    await promise;
  } catch (err) {
    const e = err as ServiceError;
    return { code: e.code, reason: reasonOf(e), details: e.details };
  }
  throw new Error('expected the call to fail, but it succeeded');
}
