import { type ServerUnaryCall, status } from '@grpc/grpc-js';
import { ADMIN_USERNAME } from '../common/admin.js';
import type { PoolClient } from '../common/database.js';
import { HedgeError, invalidArgument, unauthenticated } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { formatCents, MAX_AMOUNT_CENTS, parseAmount, parseShares } from '../common/money.js';
import { hashPassword, verifyPassword } from '../common/passwords.js';
import { parseSymbol } from '../common/symbols.js';
import { traceIdOf } from '../common/trace-context.js';
import type { Account } from '../gen/hedge/v1/Account.js';
import type { ListTradesResponse } from '../gen/hedge/v1/ListTradesResponse.js';
import type { LoginResponse } from '../gen/hedge/v1/LoginResponse.js';
import type { Portfolio } from '../gen/hedge/v1/Portfolio.js';
import type { RegisterResponse } from '../gen/hedge/v1/RegisterResponse.js';
import type { TradeRequest__Output } from '../gen/hedge/v1/TradeRequest.js';
import type { TradeResponse } from '../gen/hedge/v1/TradeResponse.js';
import type { TradingHandlers } from '../gen/hedge/v1/Trading.js';
import type { AccountReads } from './account-reads.js';
import type { AuditReads } from './audit-reads.js';
import { cancelledCall, replicaHandler } from './call-handler.js';
import { callOrigin } from './call-origin.js';
import { hashToken, parseNewSessionToken, sessionTokenHash } from './credentials.js';
import type { Executor } from './executor.js';
import type { Params } from './operation.js';
import { type QuoteVerifier, quoteParams } from './quote-verifier.js';
import { RecentSignIns } from './recent-sign-ins.js';
import type { SessionRateLimiter } from './session-rate-limit.js';
import { loginKeys, peerHost, registerKeys, type SignInLimits, SignInThrottle } from './sign-in-throttle.js';
import { parsePassword, parseRequestId, parseUsername } from './validation.js';

export interface TradingDeps {
  executor: Executor;
  accounts: AccountReads;
  audit: AuditReads;
  quotes: QuoteVerifier;
  log: Logger;
  sessionTtlSeconds: number;
  /** How long a day-trading BUY or SELL stays pending (SEng 468: 60 s). */
  orderTtlMs?: number;
  /** Runs before each call's work; the fault injector's "slow" fault lives here. */
  beforeCall?: () => Promise<void>;
  /** How failed sign-ins slow the next (default: DEFAULT_SIGN_IN_LIMITS). */
  signInLimits?: SignInLimits;
  /** Calls per session per second on this replica (default: DEFAULT_SESSION_RATE). */
  sessionRate?: SessionRateLimiter;
}

const MAX_LIST_LIMIT = 1000;

/**
 * How long a losing copy of a sign-in waits to be cancelled before it pays for the
 * scrypt that checks its password: longer than the client's grace before it cancels
 * the copies it no longer needs (LOSER_GRACE_MS in src/client/call-engine.ts, 100 ms).
 * Without it, in active mode each sign-in cost three scrypts, one per copy.
 */
const LOSER_CANCEL_WAIT_MS = 250;

/** Whether the call is cancelled within `ms` (at once if it already is). */
function cancelledWithin(call: ServerUnaryCall<unknown, unknown>, ms: number): Promise<boolean> {
  if (call.cancelled) return Promise.resolve(true);
  return new Promise((resolve) => {
    const onCancel = () => {
      clearTimeout(timer);
      resolve(true);
    };
    const timer = setTimeout(() => {
      call.off('cancelled', onCancel);
      resolve(false);
    }, ms);
    call.once('cancelled', onCancel);
  });
}

/**
 * The Trading service. Handlers check the input completely before the database is
 * touched (bad input: a precise status, nothing changed), then hand the request
 * to the executor, which runs it exactly once however many copies arrive.
 */
export function tradingHandlers(deps: TradingDeps): TradingHandlers {
  const { executor, accounts, quotes } = deps;

  const handler = replicaHandler(deps.log, deps.beforeCall, deps.sessionRate);
  const throttle = new SignInThrottle(deps.signInLimits);
  const recent = new RecentSignIns();

  async function trade(call: ServerUnaryCall<TradeRequest__Output, TradeResponse>, side: 'buy' | 'sell') {
    const req = call.request;
    const requestId = parseRequestId(req.request_id);
    const tokenHash = sessionTokenHash(call.metadata);
    const symbol = parseSymbol(req.symbol);
    const shares = parseShares(req.shares);
    const quote = quotes.verifyFor(symbol, req.quote);
    const total = shares * quote.priceCents;
    if (total > MAX_AMOUNT_CENTS) {
      throw invalidArgument(
        'ORDER_TOO_LARGE',
        `${shares} shares at ${formatCents(quote.priceCents)} exceed the largest order of ${formatCents(MAX_AMOUNT_CENTS)}`,
        'shares',
      );
    }
    return executor.execute<TradeResponse>(
      side,
      requestId,
      tokenHash,
      { symbol, shares: shares.toString(), quote: quoteParams(quote) },
      {},
      callOrigin(call.metadata),
    );
  }

  /**
   * Register and Login: what both carry, checked in this order, and the claimed-first
   * run in which `prepare` decides, in the claim's transaction, what the SQL operation
   * stores. The token's hash is a parameter: a copy with another token is another
   * request. The password is not (nothing weaker than the scrypt credential may hold
   * it): a copy that finds a successful answer stored is compared on it by that
   * credential instead, and a wrong one makes it another request (IDEMPOTENCY_KEY_REUSED).
   */
  async function signIn<T>(
    op: 'register' | 'login',
    call: ServerUnaryCall<
      { request_id: string; username: string; password: string; session_token: string },
      unknown
    >,
    prepare: (tx: PoolClient, username: string, password: string, peer: string) => Promise<Params>,
  ): Promise<T & { session_token: string }> {
    const req = call.request;
    const peer = peerHost(call.getPeer());
    const requestId = parseRequestId(req.request_id);
    const username = parseUsername(req.username);
    const password = parsePassword(req.password);
    const token = parseNewSessionToken(req.session_token);
    const response = await executor.executeClaimedFirst<T>(
      op,
      requestId,
      { username, token_hash: hashToken(token).toString('base64') },
      (tx) => prepare(tx, username, password, peer),
      async (tx) => {
        const stored = await accounts.credentials(username, tx);
        return async () => {
          // A retry of a request this replica answered, with the password it checked.
          if (recent.answered(requestId, password)) return true;
          // A copy that found the answer stored lost to another copy, whose answer the
          // client normally has already and then cancels this one: it skips its scrypt.
          if (await cancelledWithin(call, LOSER_CANCEL_WAIT_MS)) throw cancelledCall();
          return verifyPassword(password, stored);
        };
      },
      traceIdOf(call.metadata),
    );
    recent.remember(requestId, password);
    return { ...response, session_token: token };
  }

  return {
    Register: handler('Register', (call) =>
      signIn<RegisterResponse>('register', call, async (tx, username, password, peer) => {
        // The administrator's account is made by hedge admin or hedge up, never by a
        // trader: one registered first would otherwise be the name they promote.
        const keys = registerKeys(username, peer);
        await throttle.check(tx, keys, 'registration');
        // In any case: `Admin` beside `admin` would pass for the administrator in logs and screens.
        if (username.toLowerCase() === ADMIN_USERNAME) {
          await throttle.failed(tx, keys);
          throw new HedgeError(
            status.PERMISSION_DENIED,
            'USERNAME_RESERVED',
            `the username ${username} is reserved for the administrator; choose another`,
          );
        }
        // A taken name is refused before the scrypt (the insert still decides a race).
        if (await accounts.credentials(username, tx)) {
          await throttle.failed(tx, keys);
          throw new HedgeError(
            status.ALREADY_EXISTS,
            'USERNAME_TAKEN',
            `the username ${username} is already registered`,
          );
        }
        const hash = await hashPassword(password);
        return {
          password_params: hash.params,
          password_salt: hash.salt.toString('base64'),
          password_hash: hash.hash.toString('base64'),
          ttl_seconds: deps.sessionTtlSeconds,
        };
      }),
    ),

    Login: handler('Login', (call) =>
      signIn<LoginResponse>('login', call, async (tx, username, password, peer) => {
        // Checked before the scrypt: a blocked guess costs no CPU and tells nothing.
        // RESOURCE_EXHAUSTED is not stored (it is retryable): the same id may retry.
        const keys = loginKeys(username, peer);
        await throttle.check(tx, keys, 'sign-in');
        // A refusal is stored as the id's answer like any other (decision 19): a
        // mistyped password is retried with a new request id.
        const stored = await accounts.credentials(username, tx);
        // scrypt runs for unknown users too, so timing does not tell which usernames exist.
        const valid = await verifyPassword(password, stored);
        if (!valid || !stored) {
          await throttle.failed(tx, keys);
          throw unauthenticated('BAD_CREDENTIALS', 'unknown username or wrong password');
        }
        await throttle.succeeded(tx, keys);
        return { user_id: stored.userId, ttl_seconds: deps.sessionTtlSeconds };
      }),
    ),

    Logout: handler('Logout', async (call) => {
      const requestId = parseRequestId(call.request.request_id);
      return executor.execute(
        'logout',
        requestId,
        sessionTokenHash(call.metadata),
        {},
        {},
        callOrigin(call.metadata),
      );
    }),

    Deposit: handler('Deposit', async (call) => {
      const requestId = parseRequestId(call.request.request_id);
      const tokenHash = sessionTokenHash(call.metadata);
      const amount = parseAmount(call.request.amount);
      return executor.execute<Account>(
        'deposit',
        requestId,
        tokenHash,
        { amount_cents: amount.toString() },
        {},
        callOrigin(call.metadata),
      );
    }),

    Buy: handler('Buy', (call) => trade(call, 'buy')),
    Sell: handler('Sell', (call) => trade(call, 'sell')),

    GetPortfolio: handler('GetPortfolio', async (call) =>
      accounts.portfolio<Portfolio>(sessionTokenHash(call.metadata)),
    ),

    ListTrades: handler('ListTrades', async (call) => {
      const tokenHash = sessionTokenHash(call.metadata);
      const limit = call.request.limit === 0 ? 100 : call.request.limit;
      if (limit > MAX_LIST_LIMIT)
        throw invalidArgument('INVALID_LIMIT', `limit must be at most ${MAX_LIST_LIMIT}`, 'limit');
      const before = BigInt(call.request.before_id);
      if (before < 0n) throw invalidArgument('INVALID_CURSOR', 'before_id must not be negative', 'before_id');
      return accounts.trades<ListTradesResponse>(tokenHash, limit, before);
    }),
  };
}
