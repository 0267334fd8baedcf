import { type ServerWritableStream, status } from '@grpc/grpc-js';
import { HedgeError } from '../common/errors.js';
import { serverStream, unary } from '../common/grpc-handlers.js';
import type { Logger } from '../common/logger.js';
import { SIGNATURE_ALGORITHM } from '../common/quote-codec.js';
import { parseSymbol } from '../common/symbols.js';
import type { SignedQuote__Output } from '../gen/hedge/v1/SignedQuote.js';
import type { StockFeedHandlers } from '../gen/hedge/v1/StockFeed.js';
import type { StreamQuotesRequest__Output } from '../gen/hedge/v1/StreamQuotesRequest.js';
import type { PriceModel } from './price-model.js';
import type { QuoteBook } from './quote-book.js';
import type { SigningKey } from './signing-key.js';

const MAX_STREAM_SYMBOLS = 10_000;

interface Subscriber {
  call: ServerWritableStream<StreamQuotesRequest__Output, SignedQuote__Output>;
  /** Empty: every symbol the feed quotes. */
  symbols: string[];
  /**
   * The newest quote of each symbol not yet written, in the order they were
   * first left unsent. While the peer reads slower than the feed ticks, a newer
   * quote replaces an unsent one: it gets the newest price of every symbol, and
   * the memory held for it is bounded by its symbol count.
   */
  unsent: Map<string, SignedQuote__Output>;
  /** Set from a write() that found the call's buffer full until its 'drain'. */
  congested: boolean;
  /**
   * The tick last queued: the clock decides the tick, so a stream opened just
   * past a boundary already has that tick when the timer for it fires.
   */
  sequence: bigint;
}

export class FeedService {
  private readonly subscribers = new Set<Subscriber>();

  constructor(
    private readonly model: PriceModel,
    private readonly book: QuoteBook,
    private readonly key: SigningKey,
    private readonly log: Logger,
  ) {}

  /** Pushes the new tick's quotes to every stream that does not have them yet. */
  tick(): void {
    for (const s of this.subscribers) this.push(s);
  }

  handlers(): StockFeedHandlers {
    return {
      GetQuote: unary(this.log, 'GetQuote', (call) => this.quoteOrThrow(parseSymbol(call.request.symbol))),
      StreamQuotes: serverStream(this.log, 'StreamQuotes', (call) => {
        if (call.request.symbols.length > MAX_STREAM_SYMBOLS) {
          throw new HedgeError(
            status.INVALID_ARGUMENT,
            'TOO_MANY_SYMBOLS',
            `at most ${MAX_STREAM_SYMBOLS} symbols`,
          );
        }
        const symbols = [...new Set(call.request.symbols.map((s) => parseSymbol(s)))];
        for (const s of symbols) this.quoteOrThrow(s);
        const subscriber: Subscriber = { call, symbols, unsent: new Map(), congested: false, sequence: -1n };
        this.subscribers.add(subscriber);
        const remove = () => this.subscribers.delete(subscriber);
        call.on('cancelled', remove);
        call.on('close', remove);
        call.on('error', remove);
        call.on('drain', () => {
          subscriber.congested = false;
          this.flush(subscriber);
        });
        this.push(subscriber);
      }),
      GetPublicKey: unary(this.log, 'GetPublicKey', () => ({
        key_id: this.key.publicKey.keyId,
        pem: this.key.publicKey.pem,
        algorithm: SIGNATURE_ALGORITHM,
      })),
      ListSymbols: unary(this.log, 'ListSymbols', () => ({ symbols: this.model.symbols() })),
    };
  }

  /** Ends every stream, so a graceful shutdown is not held open by subscribers. */
  endStreams(): void {
    for (const s of this.subscribers) s.call.end();
    this.subscribers.clear();
  }

  /** Queues the current quote of each of the subscriber's symbols, and writes what the call takes. */
  private push(s: Subscriber): void {
    const sequence = this.model.sequence;
    if (s.sequence === sequence) return;
    s.sequence = sequence;
    for (const symbol of s.symbols.length > 0 ? s.symbols : this.model.symbols()) {
      const quote = this.book.quote(symbol, sequence);
      if (quote) s.unsent.set(symbol, quote);
    }
    this.flush(s);
  }

  /** Writes unsent quotes until the call's buffer is full; its 'drain' writes the rest. */
  private flush(s: Subscriber): void {
    for (const [symbol, quote] of s.unsent) {
      if (s.congested) return;
      s.unsent.delete(symbol);
      if (!s.call.write(quote)) s.congested = true;
    }
  }

  private quoteOrThrow(symbol: string): SignedQuote__Output {
    const quote = this.book.quote(symbol);
    if (!quote)
      throw new HedgeError(status.NOT_FOUND, 'UNKNOWN_SYMBOL', `this feed does not quote ${symbol}`);
    return quote;
  }
}
