import { Metadata } from '@grpc/grpc-js';
import { uuidv7 } from '../common/ids.js';
import type { Account__Output } from '../gen/hedge/v1/Account.js';
import type { ListTradesResponse__Output } from '../gen/hedge/v1/ListTradesResponse.js';
import type { LoginResponse__Output } from '../gen/hedge/v1/LoginResponse.js';
import type { Portfolio__Output } from '../gen/hedge/v1/Portfolio.js';
import type { RegisterResponse__Output } from '../gen/hedge/v1/RegisterResponse.js';
import type { SignedQuote } from '../gen/hedge/v1/SignedQuote.js';
import type { TradeResponse__Output } from '../gen/hedge/v1/TradeResponse.js';
import type { CallResult, ReplicatedClient } from './replicated-client.js';

/**
 * One user's session over the replicated client. Every mutating call gets a new
 * request id here; the client reuses it for all of that call's copies and retries.
 */
export class TradingSession {
  private readonly metadata = new Metadata();
  username: string | undefined;

  constructor(readonly client: ReplicatedClient) {}

  get loggedIn(): boolean {
    return this.username !== undefined;
  }

  register(username: string, password: string): Promise<CallResult<RegisterResponse__Output>> {
    return this.client.call('Register', { request_id: uuidv7(), username, password });
  }

  async login(username: string, password: string): Promise<CallResult<LoginResponse__Output>> {
    const result = await this.client.call<LoginResponse__Output>('Login', {
      request_id: uuidv7(),
      username,
      password,
    });
    this.metadata.set('authorization', `Bearer ${result.response.session_token}`);
    this.username = username;
    return result;
  }

  async logout(): Promise<CallResult<unknown>> {
    const result = await this.client.call('Logout', { request_id: uuidv7() }, this.metadata);
    this.metadata.remove('authorization');
    this.username = undefined;
    return result;
  }

  deposit(amount: string, requestId = uuidv7()): Promise<CallResult<Account__Output>> {
    return this.client.call('Deposit', { request_id: requestId, amount }, this.metadata);
  }

  buy(symbol: string, shares: bigint | number | string, quote: SignedQuote, requestId = uuidv7()) {
    return this.client.call<TradeResponse__Output>(
      'Buy',
      { request_id: requestId, symbol, shares: String(shares), quote },
      this.metadata,
    );
  }

  sell(symbol: string, shares: bigint | number | string, quote: SignedQuote, requestId = uuidv7()) {
    return this.client.call<TradeResponse__Output>(
      'Sell',
      { request_id: requestId, symbol, shares: String(shares), quote },
      this.metadata,
    );
  }

  portfolio(): Promise<CallResult<Portfolio__Output>> {
    return this.client.call('GetPortfolio', {}, this.metadata);
  }

  trades(limit = 20): Promise<CallResult<ListTradesResponse__Output>> {
    return this.client.call('ListTrades', { limit }, this.metadata);
  }
}
