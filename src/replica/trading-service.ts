import { type ServerUnaryCall, status } from '@grpc/grpc-js';
import { HedgeError, invalidArgument, unauthenticated } from '../common/errors.js';
import type { FeedPublicKey } from '../common/feed-key.js';
import { unary } from '../common/grpc-handlers.js';
import type { Logger } from '../common/logger.js';
import { formatCents, MAX_AMOUNT_CENTS, parseAmount, parseShares } from '../common/money.js';
import { parseSymbol } from '../common/symbols.js';
import type { Account } from '../gen/hedge/v1/Account.js';
import type { ListTradesResponse } from '../gen/hedge/v1/ListTradesResponse.js';
import type { LoginResponse } from '../gen/hedge/v1/LoginResponse.js';
import type { Portfolio } from '../gen/hedge/v1/Portfolio.js';
import type { RegisterResponse } from '../gen/hedge/v1/RegisterResponse.js';
import type { TradeRequest__Output } from '../gen/hedge/v1/TradeRequest.js';
import type { TradeResponse } from '../gen/hedge/v1/TradeResponse.js';
import type { TradingHandlers } from '../gen/hedge/v1/Trading.js';
import { hashPassword, hashToken, newSessionToken, sessionTokenHash, verifyPassword } from './credentials.js';
import type { Executor } from './executor.js';
import { QuoteVerifier } from './quote-verifier.js';
import { parsePassword, parseRequestId, parseUsername } from './validation.js';

export interface TradingDeps {
  executor: Executor;
  feedKey: FeedPublicKey;
  log: Logger;
  sessionTtlSeconds: number;
  /** Runs before each call's work; the fault injector's "slow" fault lives here. */
  beforeCall?: () => Promise<void>;
}

const MAX_LIST_LIMIT = 1000;

/**
 * The Trading service. Handlers check the input completely before the database is
 * touched (bad input: a precise status, nothing changed), then hand the request
 * to the executor, which runs it exactly once however many copies arrive.
 */
export function tradingHandlers(deps: TradingDeps): TradingHandlers {
  const { executor } = deps;
  const quotes = new QuoteVerifier(deps.feedKey);

  function handler<Req, Res>(method: string, fn: (call: ServerUnaryCall<Req, Res>) => Promise<Res>) {
    return unary<Req, Res>(deps.log, method, async (call) => {
      if (deps.beforeCall) await deps.beforeCall();
      // A copy whose caller already has its answer (or gave up) needs no work.
      if (call.cancelled) throw new HedgeError(status.CANCELLED, 'CANCELLED', 'the call was cancelled');
      return fn(call);
    });
  }

  async function trade(call: ServerUnaryCall<TradeRequest__Output, TradeResponse>, side: 'buy' | 'sell') {
    const req = call.request;
    const requestId = parseRequestId(req.request_id);
    const tokenHash = sessionTokenHash(call.metadata);
    const symbol = parseSymbol(req.symbol);
    const shares = parseShares(req.shares);
    const quote = quotes.verify(req.quote);
    if (quote.symbol !== symbol) {
      throw invalidArgument(
        'QUOTE_SYMBOL_MISMATCH',
        `the order is for ${symbol} but the quote is for ${quote.symbol}`,
      );
    }
    const total = shares * quote.priceCents;
    if (total > MAX_AMOUNT_CENTS) {
      throw invalidArgument(
        'ORDER_TOO_LARGE',
        `${shares} shares at ${formatCents(quote.priceCents)} exceed the largest order of ${formatCents(MAX_AMOUNT_CENTS)}`,
      );
    }
    return executor.execute<TradeResponse>(side, requestId, tokenHash, {
      symbol,
      shares: shares.toString(),
      quote: {
        price_cents: quote.priceCents.toString(),
        issued_at_ms: quote.issuedAtMs.toString(),
        expires_at_ms: quote.expiresAtMs.toString(),
        sequence: quote.sequence.toString(),
        key_id: quote.keyId,
        signature: quote.signature.toString('base64'),
      },
    });
  }

  return {
    Register: handler('Register', async (call) => {
      const requestId = parseRequestId(call.request.request_id);
      const username = parseUsername(call.request.username);
      const password = parsePassword(call.request.password);
      return executor.executeClaimedFirst<RegisterResponse>('register', requestId, { username }, async () => {
        const hash = await hashPassword(password);
        return {
          password_params: hash.params,
          password_salt: hash.salt.toString('base64'),
          password_hash: hash.hash.toString('base64'),
        };
      });
    }),

    Login: handler('Login', async (call) => {
      const requestId = parseRequestId(call.request.request_id);
      const username = parseUsername(call.request.username);
      const password = parsePassword(call.request.password);
      const stored = await executor.credentials(username);
      // The password is not a parameter of the stored request: it is never fingerprinted or kept.
      return executor.executeClaimedFirst<LoginResponse>('login', requestId, { username }, async () => {
        // scrypt runs for unknown users too, so timing does not tell which usernames exist.
        const valid = await verifyPassword(password, stored);
        if (!valid || !stored) throw unauthenticated('BAD_CREDENTIALS', 'unknown username or wrong password');
        const token = newSessionToken();
        return {
          user_id: stored.userId,
          token,
          token_hash: hashToken(token).toString('base64'),
          ttl_seconds: deps.sessionTtlSeconds,
        };
      });
    }),

    Logout: handler('Logout', async (call) => {
      const requestId = parseRequestId(call.request.request_id);
      return executor.execute('logout', requestId, sessionTokenHash(call.metadata), {});
    }),

    Deposit: handler('Deposit', async (call) => {
      const requestId = parseRequestId(call.request.request_id);
      const tokenHash = sessionTokenHash(call.metadata);
      const amount = parseAmount(call.request.amount);
      return executor.execute<Account>('deposit', requestId, tokenHash, { amount_cents: amount.toString() });
    }),

    Buy: handler('Buy', (call) => trade(call, 'buy')),
    Sell: handler('Sell', (call) => trade(call, 'sell')),

    GetPortfolio: handler('GetPortfolio', async (call) =>
      executor.portfolio<Portfolio>(sessionTokenHash(call.metadata)),
    ),

    ListTrades: handler('ListTrades', async (call) => {
      const tokenHash = sessionTokenHash(call.metadata);
      const limit = call.request.limit === 0 ? 100 : call.request.limit;
      if (limit > MAX_LIST_LIMIT)
        throw invalidArgument('INVALID_LIMIT', `limit must be at most ${MAX_LIST_LIMIT}`);
      const before = BigInt(call.request.before_id);
      if (before < 0n) throw invalidArgument('INVALID_CURSOR', 'before_id must not be negative');
      return executor.trades<ListTradesResponse>(tokenHash, limit, before);
    }),
  };
}
