import { Metadata } from '@grpc/grpc-js';
import { uuidv7 } from '../common/ids.js';
import { hedgeProto } from '../common/proto.js';
import { newSessionToken } from '../common/session-token.js';
import type { Account__Output } from '../gen/hedge/v1/Account.js';
import type { ListTradesResponse__Output } from '../gen/hedge/v1/ListTradesResponse.js';
import type { LoginResponse__Output } from '../gen/hedge/v1/LoginResponse.js';
import type { Portfolio__Output } from '../gen/hedge/v1/Portfolio.js';
import type { RegisterResponse__Output } from '../gen/hedge/v1/RegisterResponse.js';
import type { SignedQuote } from '../gen/hedge/v1/SignedQuote.js';
import type { TradeResponse__Output } from '../gen/hedge/v1/TradeResponse.js';
import {
  type CallResult,
  ReplicatedCallError,
  type ReplicatedClient,
  type UnaryMethod,
} from './replicated-client.js';

/**
 * One user's session over the replicated client. Every mutating call gets a new
 * request id here; the client reuses it for all of that call's copies and retries.
 */
const TRADING = hedgeProto().Trading.service;

export class TradingSession {
  /** The session's `authorization` metadata, for this session's calls to any service. */
  readonly metadata = new Metadata();
  username: string | undefined;

  constructor(readonly client: ReplicatedClient) {}

  /** Register or Login: both open a session under a token chosen here (decision 15). */
  private async open<T>(method: UnaryMethod<T>, username: string, password: string): Promise<CallResult<T>> {
    const token = newSessionToken();
    const result = await this.client.call<T>(method, {
      request_id: uuidv7(),
      username,
      password,
      session_token: token,
    });
    this.metadata.set('authorization', `Bearer ${token}`);
    this.username = username;
    return result;
  }

  /** Registers and, as signing up signs in, starts the session. */
  register(username: string, password: string): Promise<CallResult<RegisterResponse__Output>> {
    return this.open(TRADING.Register, username, password);
  }

  /** Registers the user, or logs in if the name is taken: one scrypt either way. */
  async signIn(username: string, password: string): Promise<void> {
    try {
      await this.register(username, password);
    } catch (err) {
      if (!(err instanceof ReplicatedCallError) || err.reason !== 'USERNAME_TAKEN') throw err;
      await this.login(username, password);
    }
  }

  login(username: string, password: string): Promise<CallResult<LoginResponse__Output>> {
    return this.open(TRADING.Login, username, password);
  }

  async logout(): Promise<CallResult<unknown>> {
    const result = await this.client.call(TRADING.Logout, { request_id: uuidv7() }, this.metadata);
    this.metadata.remove('authorization');
    this.username = undefined;
    return result;
  }

  deposit(amount: string, requestId = uuidv7()): Promise<CallResult<Account__Output>> {
    return this.client.call(TRADING.Deposit, { request_id: requestId, amount }, this.metadata);
  }

  buy(symbol: string, shares: bigint | number | string, quote: SignedQuote, requestId = uuidv7()) {
    return this.trade(TRADING.Buy, symbol, shares, quote, requestId);
  }

  sell(symbol: string, shares: bigint | number | string, quote: SignedQuote, requestId = uuidv7()) {
    return this.trade(TRADING.Sell, symbol, shares, quote, requestId);
  }

  private trade(
    method: UnaryMethod<TradeResponse__Output>,
    symbol: string,
    shares: bigint | number | string,
    quote: SignedQuote,
    requestId: string,
  ): Promise<CallResult<TradeResponse__Output>> {
    return this.client.call(
      method,
      { request_id: requestId, symbol, shares: String(shares), quote },
      this.metadata,
    );
  }

  portfolio(): Promise<CallResult<Portfolio__Output>> {
    return this.client.call(TRADING.GetPortfolio, {}, this.metadata);
  }

  trades(limit = 20): Promise<CallResult<ListTradesResponse__Output>> {
    return this.client.call(TRADING.ListTrades, { limit }, this.metadata);
  }
}
